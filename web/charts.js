// Small line charts as inline SVG, built with DOM APIs (no library, no
// innerHTML). Colours come from CSS classes (series-0 .. series-5).

import { formatIso, formatTimeTick, timeTicks } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const M = { left: 70, right: 14, top: 12, bottom: 28 };

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

let chartCounter = 0;

// series: [{name, colour (index), points: [{t: ms, v: number}]}] (points oldest first)
// yAxis(max) -> {ticks, format}: the value axis; exactFormat: hover text of a value.
// Returns an <svg> with axes, grid, one polyline (and dots) per series. Series
// drawn first are drawn wider, so lines that coincide all stay visible.
export function lineChart({ label, series, yAxis, exactFormat }) {
  chartCounter += 1;
  const id = `chart-${chartCounter}`;
  const svg = el('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'chart-svg',
    role: 'img',
    'aria-labelledby': `${id}-title`,
  });
  svg.append(el('title', { id: `${id}-title` }, label));

  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return svg;
  let tMin = Math.min(...all.map((p) => p.t));
  let tMax = Math.max(...all.map((p) => p.t));
  if (tMax - tMin < 60000) {
    // one sample, or a few close together: a minute either side
    tMin -= 60000;
    tMax += 60000;
  }
  const { ticks: yTicks, format: yFormat } = yAxis(Math.max(...all.map((p) => p.v)));
  const yMax = yTicks[yTicks.length - 1] || 1;
  const x = (t) => M.left + ((t - tMin) / (tMax - tMin)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);

  const grid = el('g', { class: 'chart-grid' });
  for (const v of yTicks) {
    grid.append(el('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    grid.append(el('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'chart-label' }, yFormat(v)));
  }
  const span = tMax - tMin;
  for (const t of timeTicks(tMin, tMax, 5)) {
    grid.append(el('line', { x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom, class: 'chart-vgrid' }));
    grid.append(el('text', { x: x(t), y: H - M.bottom + 18, 'text-anchor': 'middle', class: 'chart-label' },
      formatTimeTick(t, span)));
  }
  grid.append(el('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'chart-axis' }));
  grid.append(el('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: 'chart-axis' }));
  svg.append(grid);

  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const extra = Math.min(3, series.length - 1 - i) * 2;
    const g = el('g', { class: `chart-series series-${s.colour % 6}`, 'data-series': s.name });
    const pts = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    g.append(el('polyline', { points: pts, class: 'chart-line', 'stroke-width': 2 + extra }));
    if (s.points.length <= 300) {
      for (const p of s.points) {
        const dot = el('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 3 + extra, class: 'chart-dot' });
        dot.append(el('title', {}, `${s.name}: ${exactFormat(p.v)} at ${formatIso(p.t)}`));
        g.append(dot);
      }
    }
    svg.append(g);
  });
  return svg;
}

// <ul class="legend"> with a colour swatch and the series name (text) each.
export function legend(series) {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  for (const s of series) {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch series-${s.colour % 6}`;
    sw.setAttribute('aria-hidden', 'true');
    li.append(sw, document.createTextNode(s.name));
    ul.append(li);
  }
  return ul;
}
