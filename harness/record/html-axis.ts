// The HTML timeline's time axis, as page script (plain ES2017, no template literals): piecewise
// linear, so twenty 1 ms invokes beside a 2 s Shutdown window are not slivers. Idle stretches (no
// phase running, nothing happening) longer than GAP_MS are cut to a fixed-width break, and every
// phase (Init, invoke, Shutdown, reset) is widened to at least MIN_PHASE_PX. Every label is the
// true time since boot; a break is labelled at both sides and with its length.
export const AXIS_SCRIPT = `
var GAP_MS = 50, BREAK_PX = 40, MIN_INVOKE_PX = 24, MIN_PHASE_PX = 64, TICK_PX = 80;
function numeric(a, b) { return a - b; }
function exactMs(ms) { return ms < 10000 ? ms.toFixed(1) + ' ms' : (ms / 1000).toFixed(3) + ' s'; }
function niceStep(ms) {
  var pow = Math.pow(10, Math.floor(Math.log10(ms))), steps = [1, 2, 5, 10];
  for (var i = 0; i < steps.length; i++) { if (steps[i] * pow >= ms * (1 - 1e-9)) { return steps[i] * pow; } }
  return 10 * pow;
}
function tickText(ms, step) {
  if (ms >= 1000) { return (ms / 1000).toFixed(Math.max(0, Math.ceil(-Math.log10(step / 1000) - 1e-9))) + ' s'; }
  return ms.toFixed(Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) + ' ms';
}
/** Segments between consecutive moments of interest, each cut (idle and long) or kept with a floor width. */
function axisSegments(section) {
  function span(minPx) { return function (p) { return [p.startedAtMs, p.startedAtMs + p.durationMs, minPx]; }; }
  // Init and Shutdown wide enough for their names; an invoke, for its number.
  var phases = section.invocations.map(span(MIN_INVOKE_PX)).concat(section.init.map(span(MIN_PHASE_PX)), section.shutdowns.map(span(MIN_PHASE_PX)));
  var times = [0];
  phases.forEach(function (p) { times.push(p[0], p[1]); });
  section.marks.forEach(function (m) { times.push(m.atMs); });
  section.processes.forEach(function (p) { times.push(p.startedAtMs); if (p.exitedAtMs !== null) { times.push(p.exitedAtMs); } });
  section.shutdowns.forEach(function (s) { times.push(s.deadlineAtMs); });
  times = times.filter(function (t) { return isFinite(t) && t >= 0; }).sort(numeric);
  if (times[times.length - 1] <= 0) { times.push(1); }
  var segments = [];
  for (var i = 0; i + 1 < times.length; i++) {
    var from = times[i], to = times[i + 1], d = to - from, floor = 0, covered = false;
    if (d <= 0) { continue; }
    phases.forEach(function (p) {
      if (p[0] <= from && to <= p[1]) { covered = true; floor = Math.max(floor, p[2] * d / (p[1] - p[0])); }
    });
    segments.push({ from: from, to: to, d: d, floor: floor, cut: !covered && d > GAP_MS });
  }
  // A phase of 0 ms still gets its width: a segment of no time, so its end is right of its start.
  phases.forEach(function (p) {
    if (p[1] === p[0]) { segments.push({ from: p[0], to: p[0], d: 0, floor: p[2], cut: false }); }
  });
  segments.sort(function (a, b) { return a.from - b.from || a.d - b.d; });
  return segments;
}
/** The axis for plotPx pixels: x(ms) in plot pixels, its knots, its breaks and whether it is linear. */
function timeAxis(section, plotPx) {
  var segments = axisSegments(section);
  var cuts = segments.filter(function (s) { return s.cut; });
  var kept = segments.filter(function (s) { return !s.cut; });
  var breakPx = cuts.length === 0 ? 0 : Math.min(BREAK_PX, plotPx * 0.3 / cuts.length);
  var room = plotPx - cuts.length * breakPx;
  var sumD = kept.reduce(function (a, s) { return a + s.d; }, 0), sumF = kept.reduce(function (a, s) { return a + s.floor; }, 0);
  var scale = 0, shrink = 1;
  if (sumF >= room) { shrink = room / sumF; } else if (sumD > 0) {
    // The ms scale at which the kept segments, each at least its floor, fill the room.
    var lo = 0, hi = room / sumD;
    for (var n = 0; n < 60; n++) {
      var mid = (lo + hi) / 2, total = 0;
      kept.forEach(function (s) { total += Math.max(s.d * mid, s.floor); });
      if (total > room) { hi = mid; } else { lo = mid; }
    }
    scale = lo;
  }
  var knots = [[segments.length ? segments[0].from : 0, 0]], px = 0, linear = cuts.length === 0;
  segments.forEach(function (s) {
    var w = s.cut ? breakPx : shrink < 1 ? s.floor * shrink : Math.max(s.d * scale, s.floor);
    if (!s.cut && s.floor > s.d * scale) { linear = false; }
    px += w;
    knots.push([s.to, px]);
  });
  // At a 0 ms segment's time, the left end; with right, the right end (where a 0 ms phase ends).
  function x(ms, right) {
    var lo = 0, hi = knots.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (right ? knots[mid][0] <= ms : knots[mid][0] < ms) { lo = mid + 1; } else { hi = mid; } }
    if (lo === 0) { return knots[0][1]; }
    if (lo === knots.length) { return knots[lo - 1][1]; }
    var a = knots[lo - 1], b = knots[lo];
    if (b[0] === ms) { return b[1]; }
    if (a[0] === ms) { return a[1]; }
    return a[1] + (b[1] - a[1]) * (ms - a[0]) / (b[0] - a[0]);
  }
  return { x: x, knots: knots, segments: segments, breaks: cuts, end: knots[knots.length - 1][0], linear: linear };
}
/** Axis labels at true times: both sides of each break first, then ticks coarse to fine where they fit. */
function axisLabels(axis) {
  var placed = [];
  function extent(label) {
    var w = label.text.length * 6.2 + 8;
    return label.anchor === 'end' ? [label.px - w, label.px] : label.anchor === 'start' ? [label.px, label.px + w] : [label.px - w / 2, label.px + w / 2];
  }
  // Ticks on the axis' row; a break's sides may go one row up when breaks sit side by side.
  function place(label, rows) {
    var e = extent(label);
    if (label.side && placed.some(function (p) { return p.side && p.ms === label.ms; })) { return; }
    for (var row = 0; row < rows; row++) {
      if (!placed.some(function (p) { var f = extent(p); return p.row === row && e[0] < f[1] && f[0] < e[1]; })) {
        label.row = row;
        placed.push(label);
        return;
      }
    }
  }
  axis.breaks.forEach(function (b) {
    place({ ms: b.from, px: axis.x(b.from, true) - 3, anchor: 'end', text: exactMs(b.from), side: true }, 2);
    place({ ms: b.to, px: axis.x(b.to) + 3, anchor: 'start', text: exactMs(b.to), side: true }, 2);
  });
  // Each kept stretch gets the finest 1-2-5 step that leaves TICK_PX between its ticks; coarse ticks first.
  var candidates = [];
  axis.segments.forEach(function (s) {
    var pxPerMs = (axis.x(s.to) - axis.x(s.from, true)) / s.d;
    if (s.cut || !(s.d > 0 && pxPerMs > 0)) { return; }
    var step = niceStep(TICK_PX / pxPerMs);
    for (var k = Math.ceil(s.from / step); k * step <= s.to; k++) { candidates.push({ ms: k * step, step: step }); }
  });
  candidates.sort(function (a, b) { return b.step - a.step || a.ms - b.ms; });
  candidates.forEach(function (c) { place({ ms: c.ms, px: axis.x(c.ms), anchor: 'middle', text: tickText(c.ms, c.step), side: false }, 1); });
  return placed;
}
`
