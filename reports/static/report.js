/* reconciler report: filter, search and sort the tables. Plain JavaScript, no framework.
   Without JavaScript every table stays a plain, complete table; the controls are added here. */
(function () {
  "use strict";
  var doc = document;
  var MIN_FILTER_ROWS = 4;
  doc.documentElement.className += " js";

  function squash(s) { return (s || "").replace(/\s+/g, " ").trim(); }

  function sortKey(td, numeric) {
    if (!td) { return numeric ? -Infinity : ""; }
    var raw = td.getAttribute("data-sort");
    if (raw === null) { raw = squash(td.textContent); }
    if (numeric) {
      var n = parseFloat(raw.replace(/[^0-9.\-]/g, ""));
      return isNaN(n) ? -Infinity : n;
    }
    return raw.toLowerCase();
  }

  function option(value, label) {
    var o = doc.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function labelled(text, control) {
    var label = doc.createElement("label");
    label.appendChild(doc.createTextNode(text));
    label.appendChild(control);
    return label;
  }

  function setupFilters(table) {
    var tbody = table.tBodies[0];
    if (!tbody || tbody.rows.length < MIN_FILTER_ROWS) { return; }
    var rows = Array.prototype.slice.call(tbody.rows);
    var texts = rows.map(function (row) { return squash(row.textContent).toLowerCase(); });
    var codes = [];
    var resolutions = [];
    var resLabels = {};
    rows.forEach(function (row) {
      (row.getAttribute("data-codes") || "").split(" ").forEach(function (c) {
        if (c && codes.indexOf(c) < 0) { codes.push(c); }
      });
      var res = row.getAttribute("data-res") || "";
      if (res && resolutions.indexOf(res) < 0) {
        resolutions.push(res);
        var badge = row.querySelector(".res .badge");
        resLabels[res] = badge ? squash(badge.textContent) : res;
      }
    });
    codes.sort();

    var controls = doc.createElement("div");
    controls.className = "controls";
    controls.setAttribute("role", "group");
    controls.setAttribute("aria-label", "Filter: " + squash(table.caption ? table.caption.textContent : ""));
    var codeSelect = null;
    var resSelect = null;
    if (codes.length > 1) {
      codeSelect = doc.createElement("select");
      codeSelect.setAttribute("data-filter", "code");
      codeSelect.appendChild(option("", "All codes"));
      codes.forEach(function (c) { codeSelect.appendChild(option(c, c)); });
      controls.appendChild(labelled("Code", codeSelect));
    }
    if (resolutions.length > 1) {
      resSelect = doc.createElement("select");
      resSelect.setAttribute("data-filter", "resolution");
      resSelect.appendChild(option("", "All resolutions"));
      resolutions.forEach(function (r) { resSelect.appendChild(option(r, resLabels[r])); });
      controls.appendChild(labelled("Resolution", resSelect));
    }
    var search = doc.createElement("input");
    search.type = "search";
    search.setAttribute("data-filter", "search");
    search.setAttribute("placeholder", "line, ID, value…");
    controls.appendChild(labelled("Search", search));
    var status = doc.createElement("p");
    status.className = "filter-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");

    function apply() {
      var code = codeSelect ? codeSelect.value : "";
      var res = resSelect ? resSelect.value : "";
      var query = squash(search.value).toLowerCase();
      var shown = 0;
      rows.forEach(function (row, i) {
        var ok = (!code || (" " + row.getAttribute("data-codes") + " ").indexOf(" " + code + " ") >= 0) &&
          (!res || row.getAttribute("data-res") === res) &&
          (!query || texts[i].indexOf(query) >= 0);
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      status.textContent = shown === rows.length ? "" :
        "Showing " + shown + " of the " + rows.length + " rows in this table.";
    }
    [codeSelect, resSelect].forEach(function (s) { if (s) { s.addEventListener("change", apply); } });
    search.addEventListener("input", apply);

    var wrap = table.parentNode;
    wrap.parentNode.insertBefore(controls, wrap);
    wrap.parentNode.insertBefore(status, wrap);
  }

  function setupSorting(table) {
    var tbody = table.tBodies[0];
    if (!tbody || tbody.rows.length < 2 || !table.tHead) { return; }
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    heads.forEach(function (th, col) {
      var button = doc.createElement("button");
      button.type = "button";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      // The whole header cell sorts, not only the words in it.
      th.addEventListener("click", function (event) {
        if (event.target === th) { button.click(); }
      });
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        var numeric = th.getAttribute("data-type") === "num";
        heads.forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(tbody.rows).map(function (row, i) {
          return { row: row, key: sortKey(row.cells[col], numeric), i: i };
        });
        rows.sort(function (a, b) {
          if (a.key < b.key) { return ascending ? -1 : 1; }
          if (a.key > b.key) { return ascending ? 1 : -1; }
          return a.i - b.i;
        });
        var frag = doc.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r.row); });
        tbody.appendChild(frag);
      });
    });
  }

  Array.prototype.forEach.call(doc.querySelectorAll("table.data"), function (table) {
    if (table.getAttribute("data-filterable") === "true") { setupFilters(table); }
    setupSorting(table);
  });

  // The checklist keeps its ticks across reloads of this report (this browser only).
  (function keepTicks() {
    var store = null;
    try { store = window.localStorage; } catch (e) { store = null; }
    if (!store) { return; }
    var key = "reconciler:" + doc.title + ":" +
      squash((doc.querySelector(".foot") || {}).textContent || "");
    var ticks = {};
    try { ticks = JSON.parse(store.getItem(key) || "{}") || {}; } catch (e) { ticks = {}; }
    Array.prototype.forEach.call(doc.querySelectorAll(".checklist input[type=checkbox]"), function (box) {
      if (ticks[box.id]) { box.checked = true; }
      box.addEventListener("change", function () {
        ticks[box.id] = box.checked;
        try { store.setItem(key, JSON.stringify(ticks)); } catch (e) { /* full or refused */ }
      });
    });
  }());

  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(doc.querySelectorAll("details"), function (d) { d.open = true; });
  });
}());
