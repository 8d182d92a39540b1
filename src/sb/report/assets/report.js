// The report's script: the page's data (#sb-data) → boards, sorting, search, player pages and uPlot charts.
// Routing is the address's hash: #board=CLUSTER/WINDOW/BY or #player=NAME; anything else is the default board.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("sb-data").textContent);
  var HEADINGS = {rank: "#", user: "Player", account: "Clan", partition: "Partition", total_level: "Level",
                  total_xp: "XP", users: "Players"};
  var COLORS = ["#ffcc33", "#7ec8e3", "#e07b39", "#9ad36a", "#d96ad9", "#f2f2f2", "#ff6b6b", "#5fd1b5",
                "#c9a0ff", "#b0b060"];
  var sortState = {col: null, desc: true};
  var charts = [];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function heading(col) {
    return HEADINGS[col] || (D.skills[col] ? D.skills[col].label : col.replace(/_/g, " "));
  }

  // Python's "{:.Nf}": the nearest of the value's exact decimal expansion, a tie to the even digit (toFixed
  // rounds a tie up: 778.5 would read 779 here and 778 on the board and in the page's HTML).
  function fixed(value, digits) {
    var text = value.toFixed(digits), exact = value.toFixed(100);
    var cut = exact.indexOf(".") + 1 + digits, kept = exact.slice(0, cut).replace(/\.$/, "");
    if (/^50*$/.test(exact.slice(cut)) && Number(kept.charAt(kept.length - 1)) % 2 === 0) return kept;
    return text;
  }

  // skills.humanize: three significant digits and a suffix; memory (MB) in binary units; never 0 for nonzero.
  function humanize(value, memory) {
    if (!value) return "0";
    if (value < 0.005) return "<0.01";
    var step = memory ? 1024 : 1000, suffixes = memory ? "MGTPE" : " kMGTPE", index = 0;
    while (value >= 999.5 && index < suffixes.length - 1) { value /= step; index += 1; }
    var text = fixed(value, value >= 99.5 ? 0 : value >= 9.95 ? 1 : 2);
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return text + suffixes.charAt(index).trim();
  }

  function exact(v) {
    return v === null || v === undefined ? "-" : v.toLocaleString("en-US", {maximumFractionDigits: 2});
  }

  // One cell as page.py's cell_html draws it: the same text, so the page reads the same with JavaScript off.
  function cell(col, value, level, nameCol) {
    var td = el("td");
    if (value === null || value === undefined) { td.textContent = "-"; return td; }
    td.setAttribute("data-v", JSON.stringify(value));
    if (col === nameCol) {
      td.appendChild(col === "user" ? el("a", {href: "#player=" + value}, [String(value)])
                                    : document.createTextNode(String(value)));
    } else if (col === "rank" || col === "total_level" || col === "users") {
      td.textContent = String(value);
    } else if (col === "total_xp") {
      td.textContent = value.toLocaleString("en-US");
    } else {
      td.textContent = humanize(value, D.skills[col] && D.skills[col].memory);
      if (level !== undefined && level !== null) {
        td.appendChild(document.createTextNode(" "));
        td.appendChild(el("small", {"class": "lv"}, [String(level)]));
      }
    }
    return td;
  }

  function boardTable(key) {
    var board = D.boards[key], nameAt = board.columns.indexOf(board.name);
    var head = el("tr", {}, board.columns.map(function (c) {
      return el("th", {"data-col": c, scope: "col", tabindex: "0", role: "button"}, [heading(c)]);
    }));
    var body = el("tbody", {}, board.rows.map(function (values, n) {
      var levels = {};
      board.levelled.forEach(function (c, i) { levels[c] = board.levels[n][i]; });
      return el("tr", {"data-rank": String(values[0]), "data-name": nameAt >= 0 ? String(values[nameAt]) : ""},
                board.columns.map(function (c, i) { return cell(c, values[i], levels[c], board.name); }));
    }));
    return el("table", {"data-board": key}, [el("thead", {}, [head]), body]);
  }

  function nav(current, mark) {
    var parts = current.split("/"), box = document.getElementById("boards");
    box.textContent = "";
    var choices = [["ALL"].concat(D.clusters.map(function (c) { return c.name; })), D.windows, D.bys];
    choices.forEach(function (options, at) {
      if (options.length < 2 && at === 2) return;   // one grouping only: nothing to choose
      box.appendChild(el("div", {"class": "choices"}, options.map(function (option) {
        var target = parts.slice(); target[at] = option;
        var attrs = {href: "#board=" + target.join("/")};
        if (mark !== false && option === parts[at]) attrs["aria-current"] = "true";
        return el("a", attrs, [option === "alltime" ? "all time" : option]);
      })));
    });
  }

  function showBoard(key) {
    nav(key);
    document.getElementById("player").hidden = true;
    document.getElementById("hiscores").hidden = false;
    var holder = document.getElementById("board");
    holder.textContent = "";
    holder.appendChild(boardTable(key));
    sortState = {col: null, desc: true};
    var board = D.boards[key], search = document.getElementById("search");
    search.hidden = false;
    var noun = {user: "players", account: "clans", partition: "partitions"}[board.name] || "rows";
    document.getElementById("info").textContent = board.rows.length < board.players ?
      "top " + board.rows.length + " of " + board.players + " " + noun + " (slurm-sb tui lists everyone)" :
      board.players + " " + noun + " with at least " + board.min_jobs + " job" + (board.min_jobs === 1 ? "" : "s");
    filter(search.value);
  }

  // Sorting: a heading's click orders the rows by that column (best first, again: reversed); ranks stay
  // the standings on core-hours, and "#" brings that order back.
  function sortBy(col) {
    var table = document.querySelector("#board table"), body = table.tBodies[0];
    var at = Array.prototype.indexOf.call(table.tHead.rows[0].cells,
                                          table.querySelector('th[data-col="' + col + '"]'));
    var bestFirst = col !== "rank" && col !== D.boards[table.getAttribute("data-board")].name;  // names: A to Z
    sortState = {col: col, desc: sortState.col === col ? !sortState.desc : bestFirst};
    var rows = Array.prototype.slice.call(body.rows);
    var value = function (row) {
      var raw = row.cells[at].getAttribute("data-v");
      return raw === null ? null : JSON.parse(raw);
    };
    rows.sort(function (a, b) {
      var x = value(a), y = value(b);
      if (x === y) return Number(a.getAttribute("data-rank")) - Number(b.getAttribute("data-rank"));
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * (sortState.desc ? -1 : 1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.removeAttribute("aria-sort");
    });
    table.tHead.rows[0].cells[at].setAttribute("aria-sort", sortState.desc ? "descending" : "ascending");
  }

  function filter(text) {
    var q = text.trim().toLowerCase(), shown = 0, rows = document.querySelectorAll("#board tbody tr");
    Array.prototype.forEach.call(rows, function (row) {
      row.hidden = q !== "" && row.getAttribute("data-name").toLowerCase().indexOf(q) < 0;
      if (!row.hidden) shown += 1;
    });
    document.getElementById("search").setAttribute("data-shown", String(shown));
  }

  // ---- the player page: ranks on every board, bests, and the monthly history --------------------------

  function showPlayer(name) {
    var page = document.getElementById("player");
    nav(D.default, false);     // links to the boards, none of them shown
    document.getElementById("hiscores").hidden = true;
    page.hidden = false;
    page.textContent = "";
    page.appendChild(el("h2", {}, [name]));
    var ranks = [], best = {};
    Object.keys(D.boards).forEach(function (key) {
      var board = D.boards[key];
      if (board.name !== "user") return;
      var at = board.columns.indexOf("user");
      board.rows.forEach(function (values, n) {
        if (values[at] !== name) return;
        ranks.push([key, values, board]);
        board.levelled.forEach(function (c, i) {
          var level = board.levels[n][i];
          if (level !== null && (!best[c] || level > best[c][0])) best[c] = [level, key];
        });
      });
    });
    page.setAttribute("data-player", name);
    if (!ranks.length) {
      page.appendChild(el("p", {"class": "note"}, [name + " is on no board here: boards show their top " +
        "players with enough jobs, and never anyone who opted out."]));
      return;
    }
    var rows = ranks.map(function (r) {
      var cols = r[2].columns, v = r[1];
      return el("tr", {"data-board": r[0]}, [
        el("td", {}, [el("a", {href: "#board=" + r[0]}, [r[0]])]), el("td", {}, [String(v[0])]),
        el("td", {}, [String(v[cols.indexOf("total_level")])]),
        el("td", {}, [exact(v[cols.indexOf("clock_hours")])])]);
    });
    page.appendChild(el("h3", {}, ["Ranks (by core-hours)"]));
    page.appendChild(el("div", {"class": "scroll"}, [el("table", {"class": "ranks"}, [
      el("thead", {}, [el("tr", {}, ["Board", "Rank", "Level", "CPU-h"].map(function (t) {
        return el("th", {}, [t]); }))]), el("tbody", {}, rows)])]));
    page.appendChild(el("h3", {}, ["Bests"]));
    var top = ranks.reduce(function (a, b) { return b[1][0] < a[1][0] ? b : a; });
    page.appendChild(el("ul", {"class": "bests"}, ["Best rank: #" + top[1][0] + " on " + top[0]].concat(
      Object.keys(best).map(function (c) { return heading(c) + ": level " + best[c][0] + " (" + best[c][1] + ")"; })
    ).map(function (t) { return el("li", {}, [t]); })));
    var history = D.players[name];
    if (history) {
      page.appendChild(el("h3", {}, ["Core-hours per month, every cluster"]));
      var box = el("div", {"class": "chart"});
      page.appendChild(box);
      lineChart(box, "", D.charts.months, {"core-hours": history}, exact);
    }
  }

  // ---- charts (uPlot): x is the month's index, labelled YYYY-MM; the legend shows exact values on hover -----

  function chartWidth(box) {
    return Math.max(280, (box.clientWidth || 600) - 10);
  }

  function lineChart(box, title, months, seriesMap, format, bars, counted) {
    var names = Object.keys(seriesMap);
    var data = [months.map(function (_, i) { return i; })].concat(names.map(function (n) {
      return seriesMap[n].map(function (v) { return v === undefined ? null : v; });
    }));
    var opts = {
      title: title, width: chartWidth(box), height: 260,
      scales: {x: {time: false}},
      series: [{label: "month", value: function (u, i) { return i === null ? "-" : months[i]; }}].concat(
        names.map(function (n, k) {
          var s = {label: n, stroke: COLORS[k % COLORS.length], width: 2,
                   value: function (u, v) { return format(v); }};
          if (bars) { s.fill = COLORS[k % COLORS.length]; s.paths = uPlot.paths.bars({size: [0.6, 40]}); }
          return s;
        })),
      axes: [{stroke: "#e8d9a8", grid: {stroke: "rgba(232,217,168,0.12)"}, incrs: [1, 2, 3, 6, 12],
              values: function (u, splits) { return splits.map(function (i) { return months[i] || ""; }); }},
             {stroke: "#e8d9a8", grid: {stroke: "rgba(232,217,168,0.12)"}, size: 60,
              values: function (u, splits) { return splits.map(function (v) { return humanize(v); }); }}],
      hooks: counted ? {draw: [once(drawn)]} : {}
    };
    charts.push({box: box, plot: new uPlot(opts, data, box)});
  }

  function placeholder(box, text) {
    box.appendChild(el("p", {"class": "note placeholder"}, [text]));
  }

  function section(title) {
    var box = el("div", {"class": "chart"});
    document.getElementById("chart-list").appendChild(el("figure", {}, [el("figcaption", {}, [title]), box]));
    return box;
  }

  function once(f) {
    var called = false;
    return function () { if (!called) { called = true; f(); } };
  }

  var expected = 0, done = 0;
  function drawn() {
    done += 1;
    if (done === expected) {  // every chart has drawn once: what the browser test and the bench wait for
      document.documentElement.setAttribute("data-charts", "drawn");
      document.documentElement.setAttribute("data-charts-ms", String(Math.round(performance.now())));
    }
  }

  function drawCharts() {
    var C = D.charts, percent = function (v) { return v === null ? "-" : v.toFixed(1) + " %"; };
    var jobs = [];
    jobs.push(["Core-hours per month per cluster", C.core_hours, exact, C.months]);
    jobs.push(["GPU-hours per month per cluster", C.gpu_hours, exact, C.months]);
    jobs.push(["Top " + Object.keys(C.top.series).length + " players (365-day board): core-hours per month",
               C.top.series, exact, C.top.months]);
    ["cpu", "mem"].forEach(function (name) {
      var e = C.efficiency[name];
      jobs.push([e ? e.title + ", per month per cluster" : name === "cpu" ? "CPU efficiency per month" :
                 "Memory efficiency per month", e && e.series, percent, C.months,
                 name === "cpu" ? "No CPU time in these rollups yet: the collector records used CPU time from " +
                 "its v2 on." : "No memory requests recorded yet."]);
    });
    jobs.push(["Players by CPU efficiency (all-time board)", C.cpu_histogram &&
               {players: C.cpu_histogram}, exact, C.cpu_histogram && C.cpu_histogram.map(function (_, i) {
                 return (i * 10) + "-" + (i * 10 + 10) + " %"; }), "No per-player CPU efficiency in these " +
               "files yet (collector v2).", true]);
    jobs.push(["Clans' share of core-hours (all time)", C.clans && {"core-hours": Object.keys(C.clans).map(
      function (k) { return C.clans[k]; })}, exact, C.clans && Object.keys(C.clans),
      "No accounts in these files yet: boards by clan come with collector v2.", true]);
    expected = jobs.filter(function (j) { return j[1] && Object.keys(j[1]).length; }).length;
    jobs.forEach(function (j) {
      var box = section(j[0]);
      if (j[1] && Object.keys(j[1]).length) lineChart(box, "", j[3], j[1], j[2], j[5], true);
      else placeholder(box, j[4] || "No data for this chart yet.");
    });
    if (!expected) drawn();
    window.addEventListener("resize", function () {
      charts.forEach(function (c) { c.plot.setSize({width: chartWidth(c.box), height: 260}); });
    });
  }

  function route() {
    var hash = decodeURIComponent(location.hash.replace(/^#/, ""));
    if (hash.indexOf("player=") === 0) showPlayer(hash.slice(7));
    else showBoard(hash.indexOf("board=") === 0 && D.boards[hash.slice(6)] ? hash.slice(6) : D.default);
  }

  document.getElementById("board").addEventListener("click", function (event) {
    var th = event.target.closest("th[data-col]");
    if (th) sortBy(th.getAttribute("data-col"));
  });
  document.getElementById("board").addEventListener("keydown", function (event) {
    var th = event.target.closest("th[data-col]");
    if (th && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      sortBy(th.getAttribute("data-col"));
    }
  });
  document.getElementById("search").addEventListener("input", function (event) { filter(event.target.value); });
  window.addEventListener("hashchange", route);
  route();
  drawCharts();
})();
