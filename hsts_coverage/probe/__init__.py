"""The probe stage: every network I/O of a host.

TLS handshakes (`tls`), a connection's phases (`connecting`), HTTP/1.1 and HTTP/2 reads (`http1`,
its fast head reader `http_head`, `http2`), the requests and the redirect
walk of one address (`prober`), the addresses of one host (`hosts`), the apex's preload checks
(`apex`, and the preload list: `preload_list`), revocation fetches (`revocation`), and what
bounds them: connection limits (`limits`), one wait per dead address (`reach`), admission of
waiting hosts (`admission`), worker processes (`workers` in the main process, `worker` in
each of them, the first started with the command: `spare`). The stage gathers facts;
`hsts_coverage.rules` judges them.
"""
