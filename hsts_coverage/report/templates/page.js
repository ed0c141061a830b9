
"use strict";
for (const box of document.querySelectorAll("div.hosts")) {
  const table = box.querySelector("table");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const tools = box.querySelector(".tools");
  const filter = tools.querySelector("input");
  const status = tools.querySelector("select");
  const shown = tools.querySelector("output");
  const headers = Array.from(table.tHead.rows[0].cells);

  function apply() {
    const terms = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    let count = 0;
    for (const row of rows) {
      const text = row.dataset.search;
      const visible = terms.every((t) => text.includes(t)) &&
        (!status.value || row.dataset.status === status.value);
      row.hidden = !visible;
      count += visible ? 1 : 0;
    }
    shown.value = count + " of " + rows.length + " hosts";
  }

  function key(row, column) {
    const cell = row.cells[column];
    return cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  }

  function sortBy(column) {
    const th = headers[column];
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    const numeric = th.dataset.type === "number";
    for (const other of headers) other.removeAttribute("aria-sort");
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const order = ascending ? 1 : -1;
    const sorted = rows.slice().sort((a, b) => {
      const x = key(a, column), y = key(b, column);
      if (x === "" || y === "") return (x === "") - (y === "");  // blanks last
      const diff = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return diff * order;
    });
    const fragment = document.createDocumentFragment();
    for (const row of sorted) fragment.appendChild(row);
    body.appendChild(fragment);
  }

  headers.forEach((th, column) => {
    th.querySelector("button").addEventListener("click", () => sortBy(column));
  });
  filter.addEventListener("input", apply);
  status.addEventListener("change", apply);
  tools.hidden = false;
  apply();
}
