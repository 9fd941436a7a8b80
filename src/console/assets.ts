/**
 * The console's static files, served by the Worker itself: uPlot (npm, MIT) for the chart,
 * and the console's own small script. Immutable per deploy; no secret in any of them.
 */

import uplotJs from "uplot/dist/uPlot.iife.min.js";
import uplotCss from "uplot/dist/uPlot.min.css";

/**
 * Draws the overview's stacked chart from the JSON the page carries (#chart-data): each
 * outcome's series is added on top of the ones before, and the largest sum is drawn first
 * so every band stays visible. The same numbers are in the page as a table.
 */
const CONSOLE_JS = `(function () {
  var data = document.getElementById("chart-data");
  var target = document.getElementById("chart");
  if (!data || !target || !window.uPlot) return;
  var d = JSON.parse(data.textContent);
  var sums = d.x.map(function () { return 0; });
  var layers = d.series.map(function (s) {
    sums = sums.map(function (v, i) { return v + s.values[i]; });
    return { label: s.label, color: s.color, values: sums.slice() };
  }).reverse();
  new uPlot({
    width: Math.max(320, target.clientWidth || 800),
    height: 260,
    scales: { x: { time: true } },
    axes: [{}, { label: "events per minute" }],
    series: [{}].concat(layers.map(function (l) {
      return { label: l.label, stroke: l.color, fill: l.color + "cc", width: 1 };
    })),
  }, [d.x].concat(layers.map(function (l) { return l.values; })), target);
  target.setAttribute("data-rendered", "true");
})();
`;

export const ASSETS: Record<string, { type: string; body: string }> = {
  "uplot.js": { type: "text/javascript; charset=utf-8", body: uplotJs },
  "uplot.css": { type: "text/css; charset=utf-8", body: uplotCss },
  "console.js": { type: "text/javascript; charset=utf-8", body: CONSOLE_JS },
};
