// Draws a run's DAG as SVG: one node per task, placed in columns by depth of `needs` (a task
// sits one column right of the deepest task it needs), `finally` tasks in the columns after the
// main ones; an edge from each needed task to the task that needs it. Nodes are coloured by
// status (style.css) and show the duration; clicking one selects that task.
import { elapsed, s } from './dom.js';

const W = 170;
const H = 48;
const GAP_X = 60;
const GAP_Y = 18;
const PAD = 12;

/** Column of each task: 0 for none needed, else 1 + the deepest need (cycles cannot pass validation, but are cut). */
export function layout(tasks) {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const depth = new Map();
  const visit = (task, stack) => {
    if (depth.has(task.name)) return depth.get(task.name);
    if (stack.has(task.name)) return 0;
    stack.add(task.name);
    const needs = (task.needs ?? []).map((n) => byName.get(n)).filter((n) => n && n.phase === task.phase);
    const d = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => visit(n, stack)));
    stack.delete(task.name);
    depth.set(task.name, d);
    return d;
  };
  for (const t of tasks) visit(t, new Set());
  const mainColumns = Math.max(-1, ...tasks.filter((t) => t.phase !== 'finally').map((t) => depth.get(t.name))) + 1;
  const column = new Map(tasks.map((t) => [t.name, (t.phase === 'finally' ? mainColumns : 0) + depth.get(t.name)]));
  const rows = new Map();
  const place = new Map();
  for (const t of tasks) {
    const c = column.get(t.name);
    const r = rows.get(c) ?? 0;
    rows.set(c, r + 1);
    place.set(t.name, { x: PAD + c * (W + GAP_X), y: PAD + r * (H + GAP_Y) });
  }
  const width = PAD * 2 + Math.max(1, ...[...column.values()].map((c) => c + 1)) * (W + GAP_X) - GAP_X;
  const height = PAD * 2 + Math.max(1, ...rows.values()) * (H + GAP_Y) - GAP_Y;
  return { place, width, height };
}

/** The SVG of `tasks`; `selected` is highlighted, `onSelect(name)` gets clicks. */
export function dagSvg(tasks, selected, onSelect) {
  const { place, width, height } = layout(tasks);
  const edges = [];
  for (const t of tasks) {
    for (const need of t.needs ?? []) {
      const from = place.get(need);
      const to = place.get(t.name);
      if (!from || !to) continue;
      const x1 = from.x + W;
      const y1 = from.y + H / 2;
      const x2 = to.x;
      const y2 = to.y + H / 2;
      const mid = (x1 + x2) / 2;
      edges.push(s('path', { class: 'edge', 'data-from': need, 'data-to': t.name, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 4},${y2}`, 'marker-end': 'url(#arrow)' }));
    }
  }
  const nodes = tasks.map((t) => {
    const p = place.get(t.name);
    const label = t.name.length > 20 ? `${t.name.slice(0, 19)}…` : t.name;
    const sub = `${t.status.replace('_', ' ')} · ${elapsed(t.startedAt, t.finishedAt, t.durationMs)}`;
    return s(
      'g',
      { class: `node st-${t.status}${t.name === selected ? ' selected' : ''}${t.phase === 'finally' ? ' finally' : ''}`, 'data-task': t.name, 'data-status': t.status, transform: `translate(${p.x},${p.y})`, tabindex: 0, role: 'button', onclick: () => onSelect(t.name) },
      s('title', {}, `${t.name} (${t.phase}${t.needs?.length ? `, needs ${t.needs.join(', ')}` : ''}): ${t.status}${t.error ? ` — ${t.error}` : ''}`),
      s('rect', { width: W, height: H, rx: 6, ry: 6 }),
      s('text', { x: 10, y: 19, class: 'name' }, label),
      s('text', { x: 10, y: 37, class: 'sub' }, sub),
    );
  });
  return s(
    'svg',
    { class: 'dag', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'the run\'s tasks and what each needs' },
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))),
    edges,
    nodes,
  );
}
