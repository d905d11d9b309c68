// The HTML timeline: one self-contained file (no network, no external files) that draws one or
// more RunRecords on a time axis: a lane for the platform's phases and one per process, every
// event, signal, exit and problem as a marker, each Shutdown's window and deadline drawn across
// the lanes. The page's own script draws it from the records embedded as JSON, then writes where
// things ended up (data-px, data-py) onto the elements, so a headless browser's DOM dump can be
// compared with the record.
import { AXIS_SCRIPT } from './html-axis.js'
import type { RunRecord } from './run-record.js'

/** A check result to list under a timeline (the shape `lambda-harness check` produces). */
export interface TimelineCheck {
  readonly id: string
  readonly extension: string
  readonly outcome: 'pass' | 'fail' | 'skip'
  readonly summary: string
}

export interface TimelineSection {
  readonly title: string
  readonly subtitle?: string
  readonly record: RunRecord
  readonly checks?: readonly TimelineCheck[]
}

export interface HtmlTimelineOptions {
  readonly title?: string
}

/** A small, JSON-safe subset of each record: what the page draws. */
function pageData(section: TimelineSection) {
  const { record } = section
  return {
    title: section.title,
    subtitle: section.subtitle ?? '',
    function: record.function,
    processes: record.processes.map((p) => ({
      name: p.name,
      kind: p.kind,
      generation: p.generation,
      pid: p.pid,
      startedAtMs: p.startedAtMs,
      exitedAtMs: p.exitedAtMs,
      exit: p.exit,
      killed: p.killed,
      state: p.state,
    })),
    init: record.init === null ? [] : [record.init, ...record.invocations.flatMap((i) => (i.init === undefined ? [] : [i.init]))].map((init) => ({
      startedAtMs: init.startedAtMs,
      durationMs: init.durationMs,
      status: init.status,
      phase: init.phase,
    })),
    invocations: record.invocations.map((i) => ({ requestId: i.requestId, startedAtMs: i.startedAtMs, durationMs: i.durationMs, status: i.status, errorType: i.errorType ?? null })),
    shutdowns: [...record.resets, ...(record.shutdown === null ? [] : [record.shutdown])].map((s) => ({
      reason: s.reason,
      final: s.final,
      startedAtMs: s.startedAtMs,
      durationMs: s.durationMs,
      windowMs: s.windowMs,
      runtimeShareMs: s.runtimeShareMs,
      deadlineAtMs: s.deadlineAtMs,
    })),
    marks: record.timeline
      .filter((e) => e.kind === 'event' || e.kind === 'signal' || e.kind === 'exit' || e.kind === 'spawn' || e.kind === 'problem' || (e.kind === 'api' && /\/(register|init\/error|exit\/error|telemetry|logs) /.test(e.detail)))
      .map((e) => ({ atMs: e.atMs, kind: e.kind, process: e.process ?? null, detail: e.detail })),
    problems: record.verdict.problems,
    checks: section.checks ?? [],
    verdict: record.verdict.clean,
  }
}

/** JSON inside <script>: `<` escaped so no `</script>` or `<!--` in the data can end the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

export function renderHtmlTimeline(sections: readonly TimelineSection[], options: HtmlTimelineOptions = {}): string {
  const title = options.title ?? 'lambda-harness timeline'
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="legend">
<span><i class="sw invoke"></i>INVOKE</span><span><i class="sw shutdown"></i>SHUTDOWN</span><span><i class="sw sigterm"></i>SIGTERM</span>
<span><i class="sw sigkill"></i>SIGKILL</span><span><i class="sw stop"></i>SIGSTOP / SIGCONT (frozen)</span><span><i class="sw exit"></i>exit 0</span>
<span><i class="sw bad"></i>exit ≠ 0 / killed</span><span><i class="sw problem"></i>problem</span><span><i class="sw deadline"></i>Shutdown deadline</span>
</p>
<div id="sections"></div>
<noscript>This timeline is drawn by the page's own script; the records are in the JSON below.</noscript>
<script type="application/json" id="lh-data">${scriptJson(sections.map(pageData))}</script>
<script>${SCRIPT}</script>
</body>
</html>
`
}

const STYLE = `
body { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 16px 24px; color: #1d2330; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 24px 0 2px; }
.sub { color: #5b6577; margin: 0 0 6px; }
.legend span { margin-right: 14px; white-space: nowrap; }
.sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
.sw.invoke { background: #2f6fdf; } .sw.shutdown { background: #e68a00; } .sw.sigterm { background: #d4b000; }
.sw.sigkill { background: #d0021b; } .sw.stop { background: #9aa3b2; } .sw.exit { background: #1a9c4a; border-radius: 50%; }
.sw.bad { background: #d0021b; border-radius: 50%; } .sw.problem { background: #fff; border: 2px solid #d0021b; width: 7px; height: 7px; }
.sw.deadline { background: none; border-left: 2px dashed #d0021b; border-radius: 0; }
svg { display: block; overflow: visible; }
svg text { font: 11px system-ui, sans-serif; fill: #1d2330; }
svg .axis text { fill: #5b6577; }
svg .lane-label { font-weight: 600; }
svg .lane-sub { fill: #5b6577; }
ul.checks, ul.problems { list-style: none; padding-left: 0; margin: 6px 0; }
ul.checks li.fail, ul.problems li { color: #b00016; }
ul.checks li.skip { color: #5b6577; }
code { font-size: 12px; }
`

// The page's script. Plain ES2017, no template literals (this file is itself one).
const SCRIPT = `
(function () {${AXIS_SCRIPT}
  var NS = 'http://www.w3.org/2000/svg';
  var data = JSON.parse(document.getElementById('lh-data').textContent);
  var LABEL = 190, RIGHT = 70, LANE = 30, TOP = 58, PAD = 8;
  // The plot takes the window's width (at least 640 px): the page is drawn once, at load.
  var PLOT = Math.max(640, document.documentElement.clientWidth - 48 - LABEL - RIGHT);
  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var key in attrs) { node.setAttribute(key, String(attrs[key])); }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function tip(node, text) { el('title', {}, node, text); return node; }
  /** The first of rows rows where a label from x0 to x1 overlaps none already in taken (then taken there). */
  function freeRow(taken, x0, x1, rows) {
    for (var row = 0; row < rows; row++) {
      if (!taken.some(function (t) { return t[0] === row && x0 < t[2] && t[1] < x1; })) { break; }
    }
    row = Math.min(row, rows - 1);
    taken.push([row, x0, x1]);
    return row;
  }
  function fmt(ms) { return ms >= 1000 ? (ms / 1000).toFixed(ms >= 10000 ? 1 : 2) + ' s' : ms.toFixed(ms >= 100 ? 0 : 1) + ' ms'; }
  var root = document.getElementById('sections');
  var totalLanes = 0;
  data.forEach(function (section, index) {
    var box = document.createElement('section');
    box.className = 'timeline';
    box.setAttribute('data-index', index);
    root.appendChild(box);
    var h = document.createElement('h2');
    // With checks, the heading says whether one failed; without, whether the run was clean.
    var failed = section.checks.length > 0 ? section.checks.some(function (c) { return c.outcome === 'fail'; }) : !section.verdict;
    h.textContent = section.title + (failed ? ' ✗' : ' ✓');
    box.appendChild(h);
    if (section.subtitle) { var p = document.createElement('p'); p.className = 'sub'; p.textContent = section.subtitle; box.appendChild(p); }

    var axis = timeAxis(section, PLOT), end = axis.end;
    function x(ms, right) { return LABEL + axis.x(ms, right); }
    function w(from, to) { return Math.max(1, x(to) - x(from)); }
    if (!axis.linear) {
      var note = document.createElement('p'); note.className = 'sub axis-note';
      note.textContent = 'Time axis in ms since boot, not to one scale: idle stretches over ' + GAP_MS + ' ms are cut (⋯ and their length), and every invoke is at least ' + MIN_INVOKE_PX + ' px wide, Init and Shutdown ' + MIN_PHASE_PX + ' px. Hover for exact times.';
      box.appendChild(note);
    }

    var lanes = [{ key: 'platform', name: 'platform', sub: 'phases', process: null }];
    section.processes.forEach(function (p) {
      lanes.push({ key: p.name + '#' + p.generation, name: p.name, sub: p.kind + (p.generation > 0 ? ' · Init ' + (p.generation + 1) : '') + (p.pid ? ' · pid ' + p.pid : ''), process: p });
    });
    function laneOf(name, atMs) {
      var best = null;
      for (var i = 1; i < lanes.length; i++) {
        var p = lanes[i].process;
        if (p.name === name && p.startedAtMs <= atMs + 0.5) { best = i; }
      }
      if (best === null) { for (var j = 1; j < lanes.length; j++) { if (lanes[j].process.name === name) { return j; } } return 0; }
      return best;
    }
    var height = TOP + lanes.length * LANE + PAD;
    var svg = el('svg', { width: LABEL + PLOT + RIGHT, height: height, viewBox: '0 0 ' + (LABEL + PLOT + RIGHT) + ' ' + height, 'class': 'plot', 'data-end-ms': end.toFixed(3) }, null);
    box.appendChild(svg);

    var grid = el('g', { 'class': 'axis' }, svg);
    axisLabels(axis).forEach(function (label) {
      if (!label.side) { el('line', { x1: LABEL + label.px, x2: LABEL + label.px, y1: TOP - 6, y2: height - PAD, stroke: '#e3e7ee' }, grid); }
      el('text', { 'class': label.side ? 'tick break-side' : 'tick', x: LABEL + label.px, y: TOP - 10 - 12 * label.row, 'text-anchor': label.anchor, 'data-at-ms': label.ms }, grid, label.text);
    });
    var origin = el('line', { 'class': 'origin', x1: x(0), x2: x(0), y1: TOP - 6, y2: height - PAD, stroke: '#9aa3b2' }, grid);

    lanes.forEach(function (lane, i) {
      var y = TOP + i * LANE;
      var g = el('g', { 'class': 'lane', 'data-lane': i, 'data-process': lane.name, 'data-generation': lane.process ? lane.process.generation : '', 'data-y': y }, svg);
      el('rect', { x: 0, y: y, width: LABEL + PLOT, height: LANE, fill: i % 2 ? '#f7f8fa' : '#fff' }, g);
      el('text', { 'class': 'lane-label', x: 6, y: y + 13 }, g, lane.name);
      el('text', { 'class': 'lane-sub', x: 6, y: y + 25 }, g, lane.sub);
      lane.g = g; lane.y = y;
      if (lane.process) {
        var p = lane.process;
        var stop = p.exitedAtMs === null ? end : p.exitedAtMs;
        var bad = p.killed || (p.exit && (p.exit.code !== 0 || p.exit.signal));
        tip(el('rect', { 'class': 'life', x: x(p.startedAtMs), y: y + 9, width: w(p.startedAtMs, stop), height: 12, rx: 3,
          fill: p.kind === 'runtime' ? '#cfe0fb' : '#d9f0e1', stroke: bad ? '#d0021b' : '#9aa3b2',
          'data-start-ms': p.startedAtMs, 'data-end-ms': p.exitedAtMs === null ? '' : p.exitedAtMs }, g),
          p.name + ': started +' + fmt(p.startedAtMs) + (p.exitedAtMs === null ? ', still running when the record ended' : ', ended +' + fmt(p.exitedAtMs)) + ' (' + p.state + ')');
      }
    });

    var platform = lanes[0];
    // A phase's bar, with its name or number inside when it fits; the tooltip has the exact times.
    function band(start, dur, color, label, cls, names) {
      var r = el('rect', { 'class': cls, x: x(start), y: platform.y + 7, width: Math.max(1, x(start + dur, true) - x(start)), height: 16, fill: color, opacity: 0.85, 'data-start-ms': start, 'data-end-ms': start + dur }, platform.g);
      tip(r, label);
      var fits = names.filter(function (name) { return name.length * 6.5 + 4 <= x(start + dur, true) - x(start); })[0];
      if (fits) { tip(el('text', { 'class': 'phase-label', x: (x(start) + x(start + dur, true)) / 2, y: platform.y + 19, 'text-anchor': 'middle', fill: color === '#2f6fdf' || color === '#d0021b' ? '#fff' : '#1d2330' }, platform.g, fits), label); }
      return r;
    }
    section.init.forEach(function (init) { band(init.startedAtMs, init.durationMs, init.status === 'success' ? '#8fb3ef' : '#f19a9a', 'Init (' + init.phase + '): ' + init.status + ', ' + fmt(init.durationMs) + ' from +' + exactMs(init.startedAtMs), 'phase init', ['Init', 'I']); });
    section.invocations.forEach(function (inv, n) { band(inv.startedAtMs, inv.durationMs, inv.status === 'success' ? '#2f6fdf' : '#d0021b', 'Invoke ' + (n + 1) + ' ' + inv.requestId + ': ' + inv.status + (inv.errorType ? ' (' + inv.errorType + ')' : '') + ', ' + fmt(inv.durationMs) + ' from +' + exactMs(inv.startedAtMs), 'phase invoke', [String(n + 1)]); });
    section.shutdowns.forEach(function (s) {
      band(s.startedAtMs, s.durationMs, '#f2b35b', (s.final ? 'Shutdown' : 'Reset') + ' (' + s.reason + '): ' + fmt(s.durationMs) + ' from +' + exactMs(s.startedAtMs) + ', window ' + s.windowMs + ' ms, runtime share ' + s.runtimeShareMs + ' ms', 'phase shutdown', s.final ? ['Shutdown', 'S'] : ['Reset', 'R']);
      if (s.windowMs > 0) {
        el('rect', { 'class': 'window', x: x(s.startedAtMs), y: TOP, width: w(s.startedAtMs, s.deadlineAtMs), height: lanes.length * LANE, fill: '#e68a00', opacity: 0.06 }, svg);
        var d = el('line', { 'class': 'deadline', x1: x(s.deadlineAtMs), x2: x(s.deadlineAtMs), y1: TOP - 4, y2: height - PAD, stroke: '#d0021b', 'stroke-width': 2, 'stroke-dasharray': '5 3',
          'data-at-ms': s.deadlineAtMs, 'data-reason': s.reason }, svg);
        tip(d, 'deadline of the ' + (s.final ? 'Shutdown' : 'reset') + ' (' + s.reason + '): +' + fmt(s.deadlineAtMs) + ', ' + s.windowMs + ' ms after it began');
      }
    });
    // Each cut: a band across the lanes, its length above the axis, its two sides labelled on it.
    var gapRows = [];
    axis.breaks.forEach(function (b) {
      var left = x(b.from, true), right = x(b.to), mid = (left + right) / 2;
      var g = el('g', { 'class': 'break', 'data-from-ms': b.from, 'data-to-ms': b.to }, svg);
      el('rect', { x: left + 2, y: TOP - 4, width: Math.max(0, right - left - 4), height: lanes.length * LANE + 4, fill: '#fff', opacity: 0.8 }, g);
      [left + 2, right - 2].forEach(function (edge) {
        el('path', { d: 'M' + edge + ' ' + (TOP - 4) + 'v' + (lanes.length * LANE + 4), stroke: '#9aa3b2', 'stroke-dasharray': '3 3' }, g);
      });
      var gap = '⋯ ' + fmt(b.d), half = gap.length * 3.3;
      el('text', { 'class': 'break-gap', x: mid, y: TOP - 34 - 12 * freeRow(gapRows, mid - half, mid + half, 2), 'text-anchor': 'middle', fill: '#5b6577' }, g, gap);
      tip(g, 'cut from the axis: +' + exactMs(b.from) + ' to +' + exactMs(b.to) + ' (' + fmt(b.d) + ', nothing happened)');
    });

    // Deadline names over the breaks, left of the line at the axis' end.
    var deadlineRows = [];
    section.shutdowns.forEach(function (s) {
      if (s.windowMs <= 0) { return; }
      var at = x(s.deadlineAtMs), text = 'deadline (' + s.reason + ')', wide = text.length * 6.2, nearEnd = at > LABEL + PLOT - 120;
      var row = freeRow(deadlineRows, nearEnd ? at - wide - 3 : at, nearEnd ? at : at + wide + 3, lanes.length * 2);
      el('text', { x: at + (nearEnd ? -3 : 3), y: height - PAD - 2 - 12 * row, fill: '#d0021b', 'text-anchor': nearEnd ? 'end' : 'start' }, svg, text);
    });

    var frozen = {};
    section.marks.forEach(function (m) {
      var li = m.process === null || m.kind === 'problem' && m.process === null ? 0 : laneOf(m.process, m.atMs);
      var lane = lanes[li];
      var cx = x(m.atMs), cy = lane.y + 15, node, label = '+' + fmt(m.atMs) + ' ' + (m.process ? m.process + ': ' : '') + m.detail;
      if (m.kind === 'event') {
        var shutdown = m.detail.indexOf('SHUTDOWN') === 0, invoke = m.detail.indexOf('INVOKE') === 0 || m.detail.indexOf('invoke') === 0;
        node = shutdown ? el('path', { d: 'M' + cx + ' ' + (cy - 7) + 'l6 7l-6 7l-6 -7z', fill: '#e68a00' }, lane.g)
          : invoke ? el('rect', { x: cx - 1, y: cy - 8, width: 2, height: 16, fill: '#2f6fdf' }, lane.g)
          : el('circle', { cx: cx, cy: cy, r: 2.5, fill: '#6b7686' }, lane.g);
      } else if (m.kind === 'signal') {
        var sig = m.detail.split(' ')[0];
        if (sig === 'SIGSTOP') { frozen[li] = m.atMs; }
        if (sig === 'SIGCONT' && frozen[li] !== undefined) {
          el('rect', { 'class': 'frozen', x: x(frozen[li]), y: lane.y + 9, width: w(frozen[li], m.atMs), height: 12, fill: '#9aa3b2', opacity: 0.55 }, lane.g);
          delete frozen[li];
        }
        node = sig === 'SIGKILL' ? el('path', { d: 'M' + (cx - 5) + ' ' + (cy - 5) + 'l10 10m0 -10l-10 10', stroke: '#d0021b', 'stroke-width': 2.5 }, lane.g)
          : sig === 'SIGTERM' ? el('path', { d: 'M' + (cx - 6) + ' ' + (cy - 7) + 'h12l-6 12z', fill: '#d4b000' }, lane.g)
          : el('rect', { x: cx - 2, y: cy - 6, width: 4, height: 12, fill: '#9aa3b2' }, lane.g);
      } else if (m.kind === 'exit') {
        var ok = m.detail === 'exited (exit status 0)';
        node = el('circle', { cx: cx, cy: cy, r: 5, fill: ok ? '#1a9c4a' : '#d0021b', stroke: '#fff' }, lane.g);
      } else if (m.kind === 'problem') {
        node = el('rect', { x: cx - 5, y: lane.y + 2, width: 10, height: 10, fill: '#fff', stroke: '#d0021b', 'stroke-width': 2, transform: 'rotate(45 ' + cx + ' ' + (lane.y + 7) + ')' }, lane.g);
      } else if (m.kind === 'spawn') {
        node = el('rect', { x: cx, y: cy - 7, width: 2, height: 14, fill: '#1a9c4a' }, lane.g);
      } else {
        node = el('circle', { cx: cx, cy: cy, r: 3, fill: '#fff', stroke: '#2f6fdf', 'stroke-width': 1.5 }, lane.g);
      }
      node.setAttribute('class', 'mark ' + m.kind);
      node.setAttribute('data-at-ms', m.atMs);
      tip(node, label);
    });
    Object.keys(frozen).forEach(function (li) {
      el('rect', { 'class': 'frozen', x: x(frozen[li]), y: lanes[li].y + 9, width: w(frozen[li], end), height: 12, fill: '#9aa3b2', opacity: 0.55 }, lanes[li].g);
    });

    if (section.checks.length > 0) {
      var ul = document.createElement('ul'); ul.className = 'checks';
      section.checks.forEach(function (c) {
        var li = document.createElement('li'); li.className = c.outcome;
        li.textContent = (c.outcome === 'pass' ? '✓ ' : c.outcome === 'fail' ? '✗ ' : '- ') + c.id + (c.extension ? ' [' + c.extension + ']' : '') + '  ' + c.summary;
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    if (section.problems.length > 0) {
      var pl = document.createElement('ul'); pl.className = 'problems';
      section.problems.forEach(function (problem) { var li = document.createElement('li'); li.textContent = '✗ ' + problem.code + ': ' + problem.message; pl.appendChild(li); });
      box.appendChild(pl);
    }

    // Where things ended up on the page, for a DOM dump to compare with the record.
    var o = origin.getBoundingClientRect(), box0 = svg.getBoundingClientRect(), unit = box0.width / (LABEL + PLOT + RIGHT);
    svg.setAttribute('data-px0', (o.left + window.scrollX).toFixed(2));
    svg.setAttribute('data-knots', axis.knots.map(function (k) { return k[0].toFixed(3) + ':' + (box0.left + window.scrollX + (LABEL + k[1]) * unit).toFixed(2); }).join(' '));
    Array.prototype.forEach.call(svg.querySelectorAll('.phase, .break'), function (node) {
      var r = node.getBoundingClientRect();
      node.setAttribute('data-px', (r.left + window.scrollX).toFixed(2));
      node.setAttribute('data-px-width', r.width.toFixed(2));
    });
    Array.prototype.forEach.call(svg.querySelectorAll('.deadline'), function (line) {
      var r = line.getBoundingClientRect();
      line.setAttribute('data-px', (r.left + r.width / 2 + window.scrollX).toFixed(2));
    });
    Array.prototype.forEach.call(svg.querySelectorAll('g.lane'), function (g) {
      var r = g.getBoundingClientRect();
      g.setAttribute('data-py', (r.top + window.scrollY).toFixed(2));
      var life = g.querySelector('.life');
      if (life) { var b = life.getBoundingClientRect(); life.setAttribute('data-px', (b.left + window.scrollX).toFixed(2)); }
    });
    totalLanes += lanes.length;
  });
  document.body.setAttribute('data-rendered', 'true');
  document.body.setAttribute('data-sections', String(data.length));
  document.body.setAttribute('data-lanes', String(totalLanes));
})();
`
