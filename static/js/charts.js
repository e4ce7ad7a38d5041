// Draws the history charts of the market pages with the vendored lightweight-charts.
// Each <div class="chart" data-chart-src="…json"> is filled from its JSON endpoint, or from the
// JSON of the element named by data-chart-json (several series as columns: {format, times,
// series: [{name, kind, values}]}, null where a series has no value); the table next to it stays the fallback (and is folded once the
// chart is drawn). Works for content that
// htmx swaps in (a new range), and follows the light/dark colour scheme.
(function () {
  "use strict";

  var charts = [];
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function compactUsd(value) {
    var abs = Math.abs(value);
    var sign = value < 0 ? "-" : "";
    var steps = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < steps.length; i++) {
      if (abs >= steps[i][0]) {
        return sign + "$" + (abs / steps[i][0]).toFixed(1) + steps[i][1];
      }
    }
    return sign + "$" + abs.toFixed(0);
  }

  function usd(value) {
    var digits = Math.abs(value) < 1 ? 4 : 2;
    return (value < 0 ? "-$" : "$") + Math.abs(value).toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  }

  function themeOptions() {
    var fg = cssVar("--muted", "#5b6470");
    var line = cssVar("--line", "#dfe3e8");
    return {
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: fg,
        fontFamily: getComputedStyle(document.body).fontFamily,
        attributionLogo: false,
      },
      grid: { vertLines: { color: line }, horzLines: { color: line } },
      rightPriceScale: { borderColor: line },
      timeScale: { borderColor: line },
    };
  }

  function seriesColors(points) {
    var rising = points.length < 2 || points[points.length - 1].value >= points[0].value;
    var color = rising ? cssVar("--up", "#0a7a3b") : cssVar("--down", "#b3261e");
    return {
      lineColor: color,
      topColor: color + "55",
      bottomColor: color + "05",
    };
  }

  var PALETTE = ["--accent", "--muted", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];

  function percent(value) {
    return (value > 0 ? "+" : "") + value.toFixed(2) + "%";
  }

  function plain(value) {
    return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
  }

  function columnPoints(times, values) {
    var points = [];
    for (var i = 0; i < times.length; i++) {
      if (values[i] !== null) {
        points.push({ time: times[i], value: values[i] });
      }
    }
    return points;
  }

  function drawSeries(element, payload) {
    payload.series.forEach(function (entry) {
      entry.points = columnPoints(payload.times, entry.values);
    });
    var options = themeOptions();
    options.autoSize = true;
    options.localization = { priceFormatter: payload.format === "percent" ? percent : plain };
    options.handleScroll = { vertTouchDrag: false };
    element.dataset.chartState = "drawn";
    var chart = LightweightCharts.createChart(element, options);
    var drawn = [];
    payload.series.forEach(function (entry, i) {
      var color = PALETTE[i % PALETTE.length];
      color = color.charAt(0) === "-" ? cssVar(color, "#1d4ed8") : color;
      var kind = entry.kind === "area" ? LightweightCharts.AreaSeries : LightweightCharts.LineSeries;
      var series = chart.addSeries(kind, entry.kind === "area"
        ? Object.assign({ lineWidth: 2, priceLineVisible: false, title: entry.name }, seriesColors(entry.points))
        : { lineWidth: i ? 1 : 2, color: color, priceLineVisible: false, title: entry.name });
      series.setData(entry.points);
      drawn.push(series);
    });
    chart.timeScale().fitContent();
    charts.push({ element: element, chart: chart, series: drawn[0], points: payload.series[0].points });
    var table = element.parentElement && element.parentElement.querySelector("details.chart-table");
    if (table) {
      table.removeAttribute("open");
    }
  }

  function draw(element) {
    if (element.dataset.chartState) {
      return;
    }
    if (element.dataset.chartJson) {
      var source = document.getElementById(element.dataset.chartJson);
      if (!window.LightweightCharts || !source) {
        element.dataset.chartState = "unavailable";
        return;
      }
      var payload = JSON.parse(source.textContent);
      if (!payload.series.length || !payload.times.length) {
        element.dataset.chartState = "unavailable";
        return;
      }
      drawSeries(element, payload);
      return;
    }
    element.dataset.chartState = "loading";
    if (!window.LightweightCharts) {
      element.dataset.chartState = "unavailable";
      return;
    }
    fetch(element.dataset.chartSrc, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (payload) {
        var points = payload.points.map(function (p) {
          return { time: p.time, value: p.value };
        });
        var format = element.dataset.chartFormat === "compact-usd" ? compactUsd : usd;
        var options = themeOptions();
        options.autoSize = true;
        options.localization = { priceFormatter: format };
        options.timeScale.timeVisible = Boolean(payload.intraday);
        options.timeScale.secondsVisible = false;
        options.handleScroll = { vertTouchDrag: false };
        element.dataset.chartState = "drawn"; // visible before drawing, so it has a size
        var chart = LightweightCharts.createChart(element, options);
        var series = chart.addSeries(LightweightCharts.AreaSeries, Object.assign(
          { lineWidth: 2, priceLineVisible: false },
          seriesColors(points)
        ));
        series.setData(points);
        chart.timeScale().fitContent();
        charts.push({ element: element, chart: chart, series: series, points: points });
        var panel = element.parentElement;
        var table = panel && panel.querySelector("details.chart-table");
        if (table) {
          table.removeAttribute("open");
        }
      })
      .catch(function () {
        element.dataset.chartState = "failed";
        element.classList.add("chart-failed");
      });
  }

  function drawAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = scope.querySelectorAll("[data-chart-src], [data-chart-json]");
    for (var i = 0; i < found.length; i++) {
      draw(found[i]);
    }
    if (scope.matches && scope.matches("[data-chart-src], [data-chart-json]")) {
      draw(scope);
    }
  }

  function forgetDetached() {
    charts = charts.filter(function (entry) {
      if (document.body.contains(entry.element)) {
        return true;
      }
      entry.chart.remove();
      return false;
    });
  }

  function retheme() {
    charts.forEach(function (entry) {
      entry.chart.applyOptions(themeOptions());
      entry.series.applyOptions(seriesColors(entry.points));
    });
  }

  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener("change", retheme);
  }

  function start() {
    if (window.htmx) {
      // Runs for the page and for every piece of content htmx swaps in.
      window.htmx.onLoad(function (content) {
        forgetDetached();
        drawAll(content);
      });
    } else {
      drawAll(document);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
