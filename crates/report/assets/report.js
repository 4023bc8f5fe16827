// The convlens explorer: reads the embedded report, runs the network's forward pass over
// the embedded weights, and draws every layer. No request of any kind: all data is inline.
"use strict";
(function () {
  const R = JSON.parse(document.getElementById("report-data").textContent);

  // ---- Decoding -------------------------------------------------------------------------
  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  function floats(b64) {
    const b = bytes(b64);
    return new Float32Array(b.buffer, 0, b.length / 4);
  }
  function dequantize(q, block) {
    const codes = bytes(q.data);
    const out = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) {
      const [lo, hi] = q.range[Math.floor(i / block)];
      out[i] = lo + codes[i] * (hi - lo) / 255;
    }
    return out;
  }
  const C = R.in_channels, S = R.input_size, IMG = C * S * S, K = R.classes.length;
  const N = R.images.length;
  const pixels = bytes(R.pixels);
  const logits = floats(R.logits);
  const W = {};
  for (const name in R.weights) W[name] = { shape: R.weights[name].shape, data: floats(R.weights[name].data) };
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  const recorded = {};
  for (const name in R.maps) {
    const layer = R.layers.find((l) => l.name === name);
    recorded[name] = { data: dequantize(R.maps[name], size(layer.shape)), range: R.maps[name].range, size: size(layer.shape) };
  }

  function inputOf(i) {
    const x = new Float64Array(IMG);
    for (let j = 0; j < IMG; j++) x[j] = pixels[i * IMG + j] / 255;
    return x;
  }

  // ---- The forward pass, generic over the layer table ----------------------------------
  function conv(x, inShape, layer) {
    const [ci, h, w] = inShape;
    const [co, oh, ow] = layer.shape;
    const k = layer.kernel, p = layer.padding;
    const wt = W[layer.params[0]].data, bias = W[layer.params[1]].data;
    const out = new Float64Array(co * oh * ow);
    for (let o = 0; o < co; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let s = 0;
          for (let c = 0; c < ci; c++) {
            const wBase = (o * ci + c) * k * k, xBase = c * h * w;
            for (let ky = 0; ky < k; ky++) {
              const iy = y + ky - p;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = xx + kx - p;
                if (ix < 0 || ix >= w) continue;
                s += wt[wBase + ky * k + kx] * x[xBase + iy * w + ix];
              }
            }
          }
          out[(o * oh + y) * ow + xx] = s + bias[o];
        }
      }
    }
    return out;
  }
  function pool(x, inShape, layer) {
    const [c, h, w] = inShape;
    const [, oh, ow] = layer.shape;
    const out = new Float64Array(c * oh * ow);
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < oh; y++)
        for (let xx = 0; xx < ow; xx++) {
          let m = -Infinity;
          for (let dy = 0; dy < 2; dy++)
            for (let dx = 0; dx < 2; dx++) m = Math.max(m, x[ch * h * w + (2 * y + dy) * w + 2 * xx + dx]);
          out[(ch * oh + y) * ow + xx] = m;
        }
    return out;
  }
  function linear(x, layer) {
    const wt = W[layer.params[0]].data, bias = W[layer.params[1]].data;
    const n = layer.shape[0], m = x.length;
    const out = new Float64Array(n);
    for (let o = 0; o < n; o++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += wt[o * m + i] * x[i];
      out[o] = s + bias[o];
    }
    return out;
  }
  // Every layer's output for one input (C × S × S values in [0, 1]).
  function forward(input) {
    let x = input, shape = [C, S, S];
    const acts = [];
    for (const layer of R.layers) {
      if (layer.kind === "conv") x = conv(x, shape, layer);
      else if (layer.kind === "relu") x = x.map((v) => (v > 0 ? v : 0));
      else if (layer.kind === "pool") x = pool(x, shape, layer);
      else if (layer.kind === "linear") x = linear(x, layer);
      shape = layer.shape;
      acts.push(x);
    }
    return acts;
  }
  const inShapeOf = (li) => (li === 0 ? [C, S, S] : R.layers[li - 1].shape);
  function softmax(v) {
    const m = Math.max(...v);
    const e = Array.from(v, (x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  }

  // ---- Colour scales (the figures' scales: diverging blue-white-red, viridis) -----------
  const DIVERGING = [[33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240], [255, 255, 255], [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43]];
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142], [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37]];
  const BLUES = [[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214], [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107]];
  function ramp(stops, t) {
    t = Math.min(1, Math.max(0, isFinite(t) ? t : 0)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
    const a = stops[i], b = stops[i + 1];
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  }
  // A layer's scale: diverging around zero when it has negative values, viridis otherwise.
  function scaleFor(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo < 0) {
      const m = Math.max(-lo, hi, 1e-12);
      return { lo: -m, hi: m, rgb: (v) => ramp(DIVERGING, (v / m + 1) / 2), stops: DIVERGING };
    }
    const span = Math.max(hi - lo, 1e-12);
    return { lo, hi, rgb: (v) => ramp(VIRIDIS, (v - lo) / span), stops: VIRIDIS };
  }
  function fmt(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1000 || a < 0.001 ? v.toExponential(2) : v.toPrecision(4).replace(/\.?0+$/, "");
  }
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children || []) e.appendChild(c);
    return e;
  }
  // A canvas of w × h cells, drawn by rgbAt(y, x), shown at `px` CSS pixels per cell.
  function paint(canvas, h, w, rgbAt) {
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(w, h);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const c = rgbAt(y, x), o = (y * w + x) * 4;
        img.data[o] = c[0]; img.data[o + 1] = c[1]; img.data[o + 2] = c[2]; img.data[o + 3] = 255;
      }
    ctx.putImageData(img, 0, 0);
    return canvas;
  }
  function imageRgb(x, c, s) {
    return (y, xx) => {
      if (c === 1) { const v = 255 * x[y * s + xx]; return [v, v, v]; }
      return [255 * x[y * s + xx], 255 * x[s * s + y * s + xx], 255 * x[2 * s * s + y * s + xx]];
    };
  }
  function thumbnail(i) {
    const c = el("canvas");
    return paint(c, S, S, imageRgb(inputOf(i), C, S));
  }
  function legend(scale) {
    const c = el("canvas");
    paint(c, 1, 64, (y, x) => ramp(scale.stops, x / 63));
    return el("span", { class: "legend" }, [el("span", { text: fmt(scale.lo) }), c, el("span", { text: fmt(scale.hi) })]);
  }

  // ---- State ------------------------------------------------------------------------------
  const state = { selected: 0, source: "test", input: null, acts: null, drawn: new Float64Array(IMG), highlighted: [] };
  const mapCanvases = {}; // layer index -> [canvas per channel]
  let inputPx = 1;

  // ---- The run ------------------------------------------------------------------------------
  function runTable() {
    const h = R.history;
    const last = h[h.length - 1];
    const best = h.reduce((a, b) => (b.val_accuracy > a.val_accuracy ? b : a), h[0] || null);
    const rows = [["dataset", R.title + " (" + R.dataset + ")"], ["input", C + "×" + S + "×" + S], ["classes", String(K)]];
    for (const k of ["epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "sampler", "seed"])
      if (k in R.config) rows.push([k, typeof R.config[k] === "object" ? JSON.stringify(R.config[k]) : String(R.config[k])]);
    if (last) rows.push(["final validation accuracy", (100 * last.val_accuracy).toFixed(2) + "% (epoch " + last.epoch + ")"]);
    if (best) rows.push(["best validation accuracy", (100 * best.val_accuracy).toFixed(2) + "% (epoch " + best.epoch + ")"]);
    rows.push(["test accuracy", (100 * R.evaluation.accuracy).toFixed(2) + "% of " + R.evaluation.images + " images, loss " + R.evaluation.loss.toFixed(4)]);
    const t = el("table");
    for (const [k, v] of rows) t.appendChild(el("tr", {}, [el("th", { text: k }), el("td", { text: v })]));
    document.getElementById("run-table").appendChild(t);
    document.getElementById("version").textContent = R.version;
  }
  function curve(title, keys, format, log) {
    const t = (v) => (log ? Math.log10(Math.max(v, 1e-12)) : v);
    const box = el("div", { class: "curve" });
    const CW = 320, CH = 190;
    const cv = el("canvas", { width: CW, height: CH });
    const readout = el("div", { class: "readout", text: "" });
    box.appendChild(el("h3", { text: title }));
    box.appendChild(cv); box.appendChild(readout);
    const h = R.history, ctx = cv.getContext("2d");
    const colours = ["#2166ac", "#b2182b"];
    const L = 44, T = 8, Wd = CW - L - 8, Ht = CH - T - 24;
    let lo = Infinity, hi = -Infinity;
    for (const e of h) for (const k of keys) { lo = Math.min(lo, t(e[k])); hi = Math.max(hi, t(e[k])); }
    if (!(hi > lo)) { hi = lo + 1; }
    const label = (v) => format(log ? Math.pow(10, v) : v);
    const X = (i) => L + (h.length > 1 ? (i * Wd) / (h.length - 1) : Wd / 2);
    const Y = (v) => T + Ht - ((t(v) - lo) / (hi - lo)) * Ht;
    function draw(mark) {
      ctx.clearRect(0, 0, CW, CH);
      ctx.strokeStyle = "#999"; ctx.strokeRect(L, T, Wd, Ht);
      ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
      ctx.fillText(label(hi), 2, T + 8); ctx.fillText(label(lo), 2, T + Ht);
      if (log) ctx.fillText("log", 2, T + Ht / 2);
      ctx.fillText("epoch", L + Wd / 2 - 14, CH - 4);
      keys.forEach((k, j) => {
        ctx.strokeStyle = colours[j]; ctx.lineWidth = 2; ctx.setLineDash(j ? [5, 3] : []);
        ctx.beginPath();
        h.forEach((e, i) => (i ? ctx.lineTo(X(i), Y(e[k])) : ctx.moveTo(X(i), Y(e[k]))));
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.fillStyle = colours[j]; ctx.fillText(k.replace("_", " "), L + 6 + j * 110, T + Ht - 6);
      });
      if (mark != null) { ctx.strokeStyle = "#000"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(X(mark), T); ctx.lineTo(X(mark), T + Ht); ctx.stroke(); }
    }
    draw(null);
    cv.addEventListener("mousemove", (ev) => {
      const r = cv.getBoundingClientRect();
      const x = ((ev.clientX - r.left) * CW) / r.width;
      const i = h.length > 1 ? Math.round(((x - L) * (h.length - 1)) / Wd) : 0;
      const j = Math.max(0, Math.min(h.length - 1, i));
      if (!h.length) return;
      draw(j);
      readout.textContent = "epoch " + h[j].epoch + ": " + keys.map((k) => k.replace("_", " ") + " " + format(h[j][k])).join(", ");
    });
    return box;
  }
  function curves() {
    const box = document.getElementById("curves");
    if (!R.history.length) { box.appendChild(el("p", { class: "note", text: "The run has no finished epoch." })); return; }
    box.appendChild(curve("Loss", ["train_loss", "val_loss"], (v) => v.toFixed(4), true));
    box.appendChild(curve("Accuracy", ["train_accuracy", "val_accuracy"], (v) => (100 * v).toFixed(2) + "%"));
  }

  // ---- The image strip ------------------------------------------------------------------------
  const stripButtons = [];
  function strip() {
    const box = document.getElementById("strip");
    const mistakes = R.images.filter((e) => e.label !== e.predicted).length;
    document.getElementById("strip-note").textContent = N + " test images, " + mistakes + " of them misclassified (dashed red border). Click one, or use the arrow keys.";
    R.images.forEach((e, i) => {
      const b = el("button", { class: e.label !== e.predicted ? "mistake" : "", title: "test image " + e.index + ": true " + R.classes[e.label] + ", predicted " + R.classes[e.predicted], role: "option" }, [thumbnail(i)]);
      b.addEventListener("click", () => select(i));
      stripButtons.push(b);
      box.appendChild(b);
    });
  }
  function select(i) {
    if (N === 0) return;
    state.selected = Math.max(0, Math.min(N - 1, i));
    state.source = "test";
    stripButtons.forEach((b, j) => b.classList.toggle("selected", j === state.selected));
    setInput(inputOf(state.selected));
  }

  // ---- Input, drawing ---------------------------------------------------------------------------
  function setInput(x) {
    state.input = x;
    state.acts = forward(x);
    render();
  }
  function drawInput() {
    const cv = document.getElementById("input-canvas");
    paint(cv, S, S, imageRgb(state.input, C, S));
    inputPx = 280 / S;
    const ctx = cv.getContext("2d");
    for (const h of state.highlighted) if (h.target === "input") {
      ctx.strokeStyle = "#ff7f00"; ctx.lineWidth = Math.max(0.3, S / 140);
      ctx.strokeRect(h.x0 + 0.15, h.y0 + 0.15, h.x1 - h.x0 + 0.7, h.y1 - h.y0 + 0.7);
    }
  }
  function drawPanel() {
    const box = document.getElementById("draw-panel");
    box.appendChild(el("h3", { text: C === 1 ? "Draw your own" : "Your own image" }));
    if (C === 1) {
      const cv = el("canvas", { id: "draw-canvas" });
      box.appendChild(cv);
      let down = false;
      const stroke = (ev) => {
        const r = cv.getBoundingClientRect();
        const fx = ((ev.clientX - r.left) / r.width) * S, fy = ((ev.clientY - r.top) / r.height) * S;
        brush(fy, fx);
      };
      cv.addEventListener("pointerdown", (ev) => { down = true; if (cv.setPointerCapture && ev.pointerId !== undefined) { try { cv.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events have no capture */ } } stroke(ev); });
      cv.addEventListener("pointermove", (ev) => { if (down) stroke(ev); });
      window.addEventListener("pointerup", () => { down = false; });
      paintDrawing();
    }
    const copy = el("button", { id: "copy-selected", text: "start from the selected image" });
    copy.addEventListener("click", () => { state.drawn = inputOf(state.selected); useDrawing(); });
    const clear = el("button", { id: "clear-drawing", text: "clear" });
    clear.addEventListener("click", () => { state.drawn = new Float64Array(IMG); useDrawing(); });
    const file = el("input", { type: "file", accept: "image/*", id: "image-file", title: "load an image file (resized to " + S + "×" + S + ")" });
    file.addEventListener("change", () => { if (file.files && file.files[0]) loadImage(file.files[0]); });
    box.appendChild(el("div", {}, [copy, clear]));
    box.appendChild(el("div", { class: "note", text: "Load an image file (resized to " + S + "×" + S + (C === 1 ? ", grey" : "") + "):" }, []));
    box.appendChild(file);
  }
  // A soft round brush, as on a tablet: full ink at the centre, fading over 1.5 cells.
  function brush(fy, fx) {
    for (let y = Math.floor(fy - 2); y <= fy + 2; y++)
      for (let x = Math.floor(fx - 2); x <= fx + 2; x++) {
        if (y < 0 || x < 0 || y >= S || x >= S) continue;
        const d = Math.hypot(y + 0.5 - fy, x + 0.5 - fx);
        const ink = Math.max(0, Math.min(1, 1.5 - d));
        state.drawn[y * S + x] = Math.max(state.drawn[y * S + x], ink);
      }
    useDrawing();
  }
  function paintDrawing() {
    const cv = document.getElementById("draw-canvas");
    if (cv) paint(cv, S, S, imageRgb(state.drawn, C, S));
  }
  function useDrawing() {
    state.source = "drawn";
    stripButtons.forEach((b) => b.classList.remove("selected"));
    paintDrawing();
    setInput(state.drawn.slice());
  }
  // An image file, resized to the run's size (smoothing on, as the data's antialiased
  // resize), grey as torchvision's Grayscale for one-channel runs.
  async function loadImage(blob) {
    return useImage(await createImageBitmap(blob));
  }
  // Any image source (a decoded file, a canvas) as the input: what a loaded file goes through
  // once the browser has decoded it.
  function useImage(bitmap) {
    const cv = document.createElement("canvas");
    cv.width = S; cv.height = S;
    const ctx = cv.getContext("2d");
    ctx.imageSmoothingEnabled = true; ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, S, S);
    const d = ctx.getImageData(0, 0, S, S).data;
    const x = new Float64Array(IMG);
    for (let i = 0; i < S * S; i++) {
      const r = d[4 * i], g = d[4 * i + 1], b = d[4 * i + 2];
      if (C === 1) x[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b) / 255;
      else { x[i] = r / 255; x[S * S + i] = g / 255; x[2 * S * S + i] = b / 255; }
    }
    state.drawn = x;
    useDrawing();
    return x;
  }

  // ---- Layers -----------------------------------------------------------------------------------
  function cellPx(h) { return Math.max(2, Math.min(8, Math.floor(96 / h))); }
  function layersView() {
    const box = document.getElementById("layers");
    const cls = document.getElementById("classifier");
    R.layers.forEach((layer, li) => {
      if (layer.shape.length === 3) {
        const [c, h, w] = layer.shape;
        const px = Math.max(cellPx(h), h === 1 ? 12 : 0);
        const div = el("div", { class: "layer", id: "layer-" + layer.name });
        const head = el("h3", { text: layer.name + " (" + layer.kind + ") " + c + "×" + h + "×" + w });
        div.appendChild(head);
        const maps = el("div", { class: "maps" });
        mapCanvases[li] = [];
        for (let ch = 0; ch < c; ch++) {
          const cv = el("canvas", { title: layer.name + " channel " + ch, "data-layer": layer.name, "data-channel": ch });
          cv.style.width = w * px + "px"; cv.style.height = h * px + "px";
          cv.addEventListener("mousemove", (ev) => {
            const r = cv.getBoundingClientRect();
            const y = Math.min(h - 1, Math.floor(((ev.clientY - r.top) / r.height) * h));
            const x = Math.min(w - 1, Math.floor(((ev.clientX - r.left) / r.width) * w));
            hover(li, ch, y, x);
          });
          cv.addEventListener("mouseleave", clearHighlights);
          mapCanvases[li].push(cv);
          maps.appendChild(cv);
        }
        div.appendChild(maps);
        box.appendChild(div);
      } else {
        const row = el("div", { class: "strip-row", id: "layer-" + layer.name }, [el("span", { class: "name", text: layer.name })]);
        const cv = el("canvas", { "data-layer": layer.name });
        cv.style.width = Math.min(640, Math.max(120, layer.shape[0] * 6)) + "px";
        cv.addEventListener("mousemove", (ev) => {
          const r = cv.getBoundingClientRect();
          const j = Math.min(layer.shape[0] - 1, Math.floor(((ev.clientX - r.left) / r.width) * layer.shape[0]));
          hoverUnit(li, j);
        });
        row.appendChild(cv);
        mapCanvases[li] = [cv];
        cls.appendChild(row);
      }
    });
  }
  function drawLayer(li) {
    const layer = R.layers[li];
    const acts = state.acts[li];
    const scale = scaleFor(acts);
    const head = document.querySelector("#layer-" + CSS.escape(layer.name) + (layer.shape.length === 3 ? " h3" : ""));
    if (layer.shape.length === 3) {
      const [c, h, w] = layer.shape;
      mapCanvases[li].forEach((cv, ch) => {
        paint(cv, h, w, (y, x) => scale.rgb(acts[(ch * h + y) * w + x]));
        for (const hl of state.highlighted) if (hl.target === li && (hl.channel === null || hl.channel === ch)) {
          const ctx = cv.getContext("2d");
          ctx.strokeStyle = "#ff7f00"; ctx.lineWidth = Math.max(0.25, h / 40);
          ctx.strokeRect(hl.x0 + 0.1, hl.y0 + 0.1, hl.x1 - hl.x0 + 0.8, hl.y1 - hl.y0 + 0.8);
        }
      });
      const old = head.querySelector(".legend");
      if (old) old.remove();
      head.appendChild(legend(scale));
    } else {
      const n = layer.shape[0];
      paint(mapCanvases[li][0], 1, n, (y, x) => scale.rgb(acts[x]));
      const row = mapCanvases[li][0].parentNode;
      const old = row.querySelector(".legend");
      if (old) old.remove();
      row.appendChild(legend(scale));
    }
  }
  function render() {
    drawInput();
    R.layers.forEach((_, li) => drawLayer(li));
    const out = state.acts[state.acts.length - 1];
    const p = softmax(out);
    const best = p.indexOf(Math.max(...p));
    const pred = document.getElementById("prediction");
    pred.textContent = "";
    if (state.source === "test") {
      const e = R.images[state.selected];
      document.getElementById("source").textContent = "test image " + e.index + ", true class: " + R.classes[e.label];
      pred.appendChild(el("span", { text: R.classes[best] + " (" + (100 * p[best]).toFixed(1) + "%)" }));
      if (e.label !== best) pred.appendChild(el("span", { class: "mistake-mark", text: "  ✗ mistake" }));
    } else {
      document.getElementById("source").textContent = "your image";
      pred.appendChild(el("span", { text: R.classes[best] + " (" + (100 * p[best]).toFixed(1) + "%)" }));
    }
    pred.setAttribute("data-class", best);
    const probs = document.getElementById("probabilities");
    probs.textContent = "";
    const order = p.map((v, i) => i).sort((a, b) => p[b] - p[a]).slice(0, 10);
    for (const i of order)
      probs.appendChild(el("div", { class: "bar" + (i === best ? " top" : "") }, [el("span", { class: "label", text: R.classes[i] }), el("span", { class: "fill", style: "width:" + Math.round(150 * p[i]) + "px" }), el("span", { text: (100 * p[i]).toFixed(1) + "%" })]));
    attributionView();
  }

  // ---- Receptive fields and the computation behind a value ----------------------------------
  // The rows and columns of layer `li - 1`'s output (or the input for li = 0) that the cell
  // (y0..y1, x0..x1) of layer li reads.
  function backOne(li, r) {
    const layer = R.layers[li];
    const [, h, w] = inShapeOf(li);
    if (layer.kind === "conv") {
      const k = layer.kernel, p = layer.padding;
      return { y0: r.y0 - p, y1: r.y1 - p + k - 1, x0: r.x0 - p, x1: r.x1 - p + k - 1, h, w };
    }
    if (layer.kind === "pool") return { y0: 2 * r.y0, y1: 2 * r.y1 + 1, x0: 2 * r.x0, x1: 2 * r.x1 + 1, h, w };
    return { y0: r.y0, y1: r.y1, x0: r.x0, x1: r.x1, h, w };
  }
  const clip = (r) => ({ y0: Math.max(0, r.y0), y1: Math.min(r.h - 1, r.y1), x0: Math.max(0, r.x0), x1: Math.min(r.w - 1, r.x1) });
  // The receptive field of a cell on the input, before clipping to the image.
  function receptiveField(li, y, x) {
    let r = { y0: y, y1: y, x0: x, x1: x };
    for (let l = li; l >= 0; l--) r = backOne(l, r);
    return r;
  }
  function gridTable(values, k) {
    const t = el("table");
    for (let y = 0; y < k; y++) {
      const tr = el("tr");
      for (let x = 0; x < k; x++) tr.appendChild(el("td", { text: fmt(values[y * k + x]) }));
      t.appendChild(tr);
    }
    return t;
  }
  function smallMap(values, k) {
    const sc = scaleFor(values);
    return paint(el("canvas"), k, k, (y, x) => sc.rgb(values[y * k + x]));
  }
  function setComputation(node, value, computed) {
    const box = document.getElementById("computation");
    box.textContent = "";
    box.appendChild(node);
    box.setAttribute("data-value", String(value));
    box.setAttribute("data-computed", String(computed === undefined ? value : computed));
  }
  function hover(li, ch, y, x) {
    const layer = R.layers[li];
    const rf = receptiveField(li, y, x);
    const below = backOne(li, { y0: y, y1: y, x0: x, x1: x });
    state.highlighted = [Object.assign({ target: "input" }, clip(Object.assign(rf, { h: S, w: S })))];
    if (li > 0) state.highlighted.push(Object.assign({ target: li - 1, channel: layer.kind === "conv" ? null : ch }, clip(below)));
    state.lastHover = { layer: layer.name, channel: ch, y, x, rf };
    drawInput();
    R.layers.forEach((_, l) => { if (R.layers[l].shape.length === 3) drawLayer(l); });
    const [, h, w] = layer.shape;
    const value = state.acts[li][(ch * h + y) * w + x];
    const prev = li === 0 ? state.input : state.acts[li - 1];
    const [ci, ih, iw] = inShapeOf(li);
    const name = li === 0 ? "input" : R.layers[li - 1].name;
    const box = el("div");
    box.appendChild(el("p", { text: layer.name + "[channel " + ch + ", row " + y + ", column " + x + "] = " + fmt(value) }));
    let computed;
    if (layer.kind === "conv") {
      const k = layer.kernel, p = layer.padding;
      const wt = W[layer.params[0]].data, bias = W[layer.params[1]].data[ch];
      let total = 0;
      const grids = el("div", { class: "grids" });
      const parts = [];
      for (let c = 0; c < ci; c++) {
        const kern = [], patch = [];
        let s = 0;
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++) {
            const iy = y + ky - p, ix = x + kx - p;
            const v = iy >= 0 && iy < ih && ix >= 0 && ix < iw ? prev[(c * ih + iy) * iw + ix] : 0;
            const wv = wt[((ch * ci + c) * k + ky) * k + kx];
            kern.push(wv); patch.push(v); s += wv * v;
          }
        total += s;
        parts.push(s);
        if (c < 4) {
          grids.appendChild(el("div", {}, [el("div", { text: "kernel " + ch + "/" + c }), smallMap(kern, k), el("div", { text: name + " ch " + c }), smallMap(patch, k), el("div", { text: "Σ = " + fmt(s) })]));
        }
      }
      computed = total + bias;
      box.appendChild(el("p", { class: "note", text: "A " + k + "×" + k + " kernel per input channel (" + ci + ") times the patch of " + name + " under it" + (p ? " (zero outside, padding " + p + ")" : "") + ":" }));
      box.appendChild(grids);
      if (ci > 4) box.appendChild(el("p", { class: "note", text: "… and " + (ci - 4) + " more input channels; per-channel sums: " + parts.map(fmt).join(", ") }));
      box.appendChild(el("p", { class: "note", text: "Channel 0 in numbers, kernel then patch:" }));
      box.appendChild(el("div", { class: "grids" }, [gridTable(parts.length ? kernelOf(layer, ch, 0) : [], k), gridTable(patchOf(prev, ci, ih, iw, 0, y, x, k, p), k)]));
      box.appendChild(el("p", { text: "sum " + fmt(total) + " + bias " + fmt(bias) + " = " + fmt(computed) }));
      box.appendChild(el("p", { text: "then ReLU: max(0, " + fmt(computed) + ") = " + fmt(Math.max(0, computed)) + " (the next layer)" }));
    } else if (layer.kind === "relu") {
      const v = prev[(ch * ih + y) * iw + x];
      computed = Math.max(0, v);
      box.appendChild(el("p", { text: "ReLU: max(0, " + name + " = " + fmt(v) + ") = " + fmt(computed) }));
    } else if (layer.kind === "pool") {
      const win = [];
      for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) win.push(prev[(ch * ih + 2 * y + dy) * iw + 2 * x + dx]);
      computed = Math.max(...win);
      box.appendChild(el("p", { text: "max over the 2×2 window of " + name + ":" }));
      box.appendChild(gridTable(win, 2));
      box.appendChild(el("p", { text: "= " + fmt(computed) }));
    }
    setComputation(box, value, computed);
  }
  // The computation behind one value of a one-dimensional layer: for a linear layer the
  // largest terms of weights · previous layer, their sum and the bias.
  function hoverUnit(li, j) {
    const layer = R.layers[li];
    const value = state.acts[li][j];
    const prev = state.acts[li - 1] || state.input;
    const name = li === 0 ? "input" : R.layers[li - 1].name;
    const box = el("div", {}, [el("p", { text: layer.name + "[" + j + "] = " + fmt(value) })]);
    let computed = value;
    if (layer.kind === "linear") {
      const wt = W[layer.params[0]].data, bias = W[layer.params[1]].data[j], m = prev.length;
      const terms = [];
      let total = 0;
      for (let i = 0; i < m; i++) { const t = wt[j * m + i] * prev[i]; terms.push([i, t]); total += t; }
      computed = total + bias;
      terms.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
      const t = el("table");
      t.appendChild(el("tr", {}, ["input", "weight", "× value", "= term"].map((h) => el("th", { text: h }))));
      for (const [i, term] of terms.slice(0, 6)) t.appendChild(el("tr", {}, [el("td", { text: name + "[" + i + "]" }), el("td", { text: fmt(wt[j * m + i]) }), el("td", { text: fmt(prev[i]) }), el("td", { text: fmt(term) })]));
      box.appendChild(el("p", { class: "note", text: "The " + Math.min(6, m) + " largest of " + m + " terms weight × " + name + ":" }));
      box.appendChild(t);
      box.appendChild(el("p", { text: "sum " + fmt(total) + " + bias " + fmt(bias) + " = " + fmt(computed) }));
    } else if (layer.kind === "relu") {
      computed = Math.max(0, prev[j]);
      box.appendChild(el("p", { text: "ReLU: max(0, " + name + " = " + fmt(prev[j]) + ") = " + fmt(computed) }));
    } else if (layer.kind === "flatten") {
      box.appendChild(el("p", { text: "the values of " + name + " in one row (channel, then row, then column)" }));
    }
    state.lastHover = { layer: layer.name, channel: 0, y: 0, x: j };
    setComputation(box, value, computed);
  }
  function clearHighlights() {
    state.highlighted = [];
    drawInput();
    R.layers.forEach((_, l) => { if (R.layers[l].shape.length === 3) drawLayer(l); });
  }
  function kernelOf(layer, o, c) {
    const k = layer.kernel, wt = W[layer.params[0]], ci = wt.shape[1];
    return Array.from(wt.data.slice(((o * ci + c) * k) * k, ((o * ci + c) * k + k) * k));
  }
  function patchOf(prev, ci, ih, iw, c, y, x, k, p) {
    const out = [];
    for (let ky = 0; ky < k; ky++)
      for (let kx = 0; kx < k; kx++) {
        const iy = y + ky - p, ix = x + kx - p;
        out.push(iy >= 0 && iy < ih && ix >= 0 && ix < iw ? prev[(c * ih + iy) * iw + ix] : 0);
      }
    return out;
  }

  // ---- Attribution ---------------------------------------------------------------------------
  const attr = R.attributions
    ? {
        images: R.attributions.images,
        size: R.attributions.size,
        methods: R.attributions.methods.map(([name, q]) => [name, dequantize(q, R.attributions.size[0] * R.attributions.size[1])]),
        method: 0,
      }
    : null;
  function attributionView() {
    const box = document.getElementById("attribution");
    box.textContent = "";
    if (!attr) {
      box.appendChild(el("p", { id: "attribution-missing", text: "This run has no attribution maps. Run `trainer explain --run DIR` (it writes DIR/explain/attributions.safetensors), then `trainer report --run DIR` again to see, for each image, which pixels the prediction depends on." }));
      return;
    }
    const pos = state.source === "test" ? attr.images.indexOf(state.selected) : -1;
    const methods = el("div", { class: "methods" });
    attr.methods.forEach(([name], m) => {
      const b = el("button", { class: m === attr.method ? "on" : "", text: name });
      b.addEventListener("click", () => { attr.method = m; attributionView(); });
      methods.appendChild(b);
    });
    box.appendChild(methods);
    if (pos < 0) {
      box.appendChild(el("p", { id: "attribution-none", class: "note", text: state.source === "test" ? "No attribution maps for this image; " + attr.images.length + " of the images above have them." : "Attribution maps exist for test images only." }));
      return;
    }
    const [h, w] = attr.size;
    const values = attr.methods[attr.method][1].subarray(pos * h * w, (pos + 1) * h * w);
    const sc = scaleFor(values);
    const alone = paint(el("canvas", { id: "attribution-map" }), h, w, (y, x) => sc.rgb(values[y * w + x]));
    const x = state.input;
    const over = paint(el("canvas", { id: "attribution-overlay" }), h, w, (y, xx) => {
      const yy = Math.min(S - 1, Math.floor((y * S) / h)), xs = Math.min(S - 1, Math.floor((xx * S) / w));
      const g = C === 1 ? x[yy * S + xs] : (x[yy * S + xs] + x[S * S + yy * S + xs] + x[2 * S * S + yy * S + xs]) / 3;
      const c = sc.rgb(values[y * w + xx]);
      const t = Math.min(1, Math.max(0, (values[y * w + xx] - sc.lo) / (sc.hi - sc.lo || 1)));
      return [g * 255 * (1 - 0.6 * t) + c[0] * 0.6 * t, g * 255 * (1 - 0.6 * t) + c[1] * 0.6 * t, g * 255 * (1 - 0.6 * t) + c[2] * 0.6 * t];
    });
    box.appendChild(el("div", { class: "row" }, [el("div", {}, [el("div", { text: attr.methods[attr.method][0] }), alone, legend(sc)]), el("div", {}, [el("div", { text: "over the image" }), over])]));
  }

  // ---- Confusion ------------------------------------------------------------------------------
  function confusion() {
    const m = R.evaluation.confusion;
    const t = el("table");
    const head = el("tr", {}, [el("th", { text: "true \\ predicted" })]);
    R.classes.forEach((c, j) => head.appendChild(el("th", { text: K <= 20 ? c.slice(0, 6) : "", title: c })));
    t.appendChild(head);
    m.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      const tr = el("tr", {}, [el("th", { text: K <= 20 ? R.classes[i] : "", title: R.classes[i] })]);
      row.forEach((n, j) => {
        const [r, g, b] = ramp(BLUES, n / total);
        // Many classes: small cells without numbers (the count is in the cell's tooltip).
        const td = el("td", { text: K <= 20 ? String(n) : "", class: K <= 20 ? "" : "small", title: R.classes[i] + " predicted as " + R.classes[j] + ": " + n, "data-true": i, "data-pred": j });
        td.style.background = "rgb(" + r + "," + g + "," + b + ")";
        td.style.color = n / total > 0.5 ? "#fff" : "#000";
        td.addEventListener("click", () => { t.querySelectorAll("td.active").forEach((a) => a.classList.remove("active")); td.classList.add("active"); cellImages(i, j); });
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    document.getElementById("confusion").appendChild(t);
    document.getElementById("cell-images").appendChild(el("p", { class: "note", text: "Rows: true class; columns: predicted; colour: the fraction of the row. Click a cell to list the embedded test images in it." }));
  }
  function cellImages(i, j) {
    const box = document.getElementById("cell-images");
    box.textContent = "";
    const hits = [];
    R.images.forEach((e, k) => { if (e.label === i && e.predicted === j) hits.push(k); });
    box.appendChild(el("p", { id: "cell-summary", text: R.classes[i] + " predicted as " + R.classes[j] + ": " + R.evaluation.confusion[i][j] + " of the test set, " + hits.length + " among the " + N + " embedded images" }));
    const list = el("div", { id: "cell-list" });
    for (const k of hits) {
      const b = el("button", { title: "test image " + R.images[k].index }, [thumbnail(k)]);
      b.addEventListener("click", () => select(k));
      list.appendChild(b);
    }
    box.appendChild(list);
    return hits;
  }

  // ---- Filters and statistics -------------------------------------------------------------------
  function filters() {
    const box = document.getElementById("filters");
    for (const layer of R.layers) {
      if (layer.kind !== "conv") continue;
      const w = W[layer.params[0]];
      const [o, ci, k] = w.shape;
      let m = 1e-12;
      for (const v of w.data) m = Math.max(m, Math.abs(v));
      const scale = { lo: -m, hi: m, rgb: (v) => ramp(DIVERGING, (v / m + 1) / 2), stops: DIVERGING };
      const gap = 1;
      // Rows: input channels; columns: output channels (the wide dimension).
      const rows = ci, cols = o;
      const cv = el("canvas");
      const hh = rows * (k + gap) - gap, ww = cols * (k + gap) - gap;
      paint(cv, hh, ww, (y, x) => {
        const r = Math.floor(y / (k + gap)), c = Math.floor(x / (k + gap));
        const ky = y % (k + gap), kx = x % (k + gap);
        if (ky === k || kx === k) return [255, 255, 255];
        return scale.rgb(w.data[((c * ci + r) * k + ky) * k + kx]);
      });
      const px = Math.max(2, Math.min(12, Math.floor(1100 / ww)));
      cv.style.width = ww * px + "px"; cv.style.height = hh * px + "px";
      const head = el("h3", { text: layer.name + ": " + o + " filters of " + ci + "×" + k + "×" + k + " (columns: output channels, rows: input channels)" });
      head.appendChild(legend(scale));
      box.appendChild(el("div", { class: "filters" }, [head, el("div", { class: "scroll" }, [cv])]));
    }
  }
  function stats() {
    const box = document.getElementById("stats");
    if (!R.stats.length) { box.appendChild(el("p", { class: "note", text: "No statistics." })); return; }
    const t = el("table");
    t.appendChild(el("tr", {}, ["layer", "shape", "zeros", "mean", "never-active channels", "channel means"].map((h) => el("th", { text: h }))));
    for (const s of R.stats) {
      const cm = s.channel_means;
      let cell = el("span");
      if (cm.length > 1) {
        const sc = scaleFor(cm);
        cell = paint(el("canvas"), 1, cm.length, (y, x) => sc.rgb(cm[x]));
        cell.style.width = Math.min(330, cm.length * 3) + "px"; cell.style.height = "10px";
      }
      t.appendChild(el("tr", {}, [el("td", { text: s.layer }), el("td", { text: s.shape.join("×") }), el("td", { text: (100 * s.zero_fraction).toFixed(1) + "%" }), el("td", { text: fmt(s.mean) }), el("td", { text: (100 * s.never_active_fraction).toFixed(1) + "%" }), el("td", {}, [cell])]));
    }
    box.appendChild(t);
  }

  // ---- Keyboard -------------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.target && (ev.target.tagName === "INPUT" || ev.target.tagName === "TEXTAREA")) return;
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { select(state.source === "test" ? state.selected + 1 : state.selected); ev.preventDefault(); }
    if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { select(state.source === "test" ? state.selected - 1 : state.selected); ev.preventDefault(); }
  });

  // ---- Self-test ---------------------------------------------------------------------------------
  function maxDiff(a, b) {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }
  function centre(cv, y, x, h, w) {
    const r = cv.getBoundingClientRect();
    return { clientX: r.left + ((x + 0.5) * r.width) / w, clientY: r.top + ((y + 0.5) * r.height) / h, bubbles: true, pointerId: 1 };
  }
  function selftest() {
    const fails = [];
    const check = (ok, what) => { if (!ok) fails.push(what); };
    // 1. The forward pass against convlens's, on every embedded image.
    let worst = 0, worstMap = {};
    for (let i = 0; i < N; i++) {
      const acts = forward(inputOf(i));
      const out = acts[acts.length - 1];
      worst = Math.max(worst, maxDiff(out, logits.subarray(i * K, (i + 1) * K)));
      R.layers.forEach((layer, li) => {
        const rec = recorded[layer.name];
        if (!rec) return;
        const [lo, hi] = rec.range[i];
        const tol = (hi - lo) / 510 + 1e-4 * Math.max(1, Math.abs(lo), Math.abs(hi));
        const d = maxDiff(acts[li], rec.data.subarray(i * rec.size, (i + 1) * rec.size));
        worstMap[layer.name] = Math.max(worstMap[layer.name] || 0, d / tol);
      });
    }
    check(N > 0, "no embedded images");
    check(worst <= 1e-4, "logits differ from convlens's by " + worst + " (> 1e-4)");
    for (const name in worstMap) check(worstMap[name] <= 1, name + " differs from the recorded maps by " + worstMap[name].toFixed(2) + " quantization steps");
    // 2. A click on the strip, and the arrow keys.
    if (N > 1) {
      stripButtons[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
      check(state.selected === 1 && state.source === "test", "a click on the second image did not select it");
      check(document.getElementById("prediction").getAttribute("data-class") === String(R.images[1].predicted), "the prediction shown is not the image's");
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
      check(state.selected === 0, "ArrowLeft did not move to the first image");
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
      check(state.selected === 1, "ArrowRight did not move to the next image");
    }
    // 3. Hover over a cell of every map layer: the computation agrees with the forward pass,
    // and the receptive field is the one the layer table gives.
    R.layers.forEach((layer, li) => {
      if (layer.shape.length !== 3) return;
      const [c, h, w] = layer.shape;
      const ch = c - 1, y = Math.floor(h / 2), x = Math.floor(w / 2);
      const cv = mapCanvases[li][ch];
      cv.dispatchEvent(new MouseEvent("mousemove", centre(cv, y, x, h, w)));
      const box = document.getElementById("computation");
      const value = state.acts[li][(ch * h + y) * w + x];
      check(state.lastHover && state.lastHover.layer === layer.name && state.lastHover.y === y && state.lastHover.x === x, "hovering " + layer.name + " did not reach its cell");
      check(Math.abs(Number(box.getAttribute("data-value")) - value) <= 1e-9, "the value shown for " + layer.name + " is not the map's");
      const computed = Number(box.getAttribute("data-computed"));
      check(Math.abs(computed - value) <= 1e-9 * Math.max(1, Math.abs(value)), layer.name + ": the computation shown gives " + computed + ", the map holds " + value);
      check(state.highlighted.some((hl) => hl.target === "input"), "no receptive field on the input for " + layer.name);
      if (li > 0) check(state.highlighted.some((hl) => hl.target === li - 1), "no highlight on the layer below " + layer.name);
    });
    // The classifier strips: every unit's computation agrees with the forward pass.
    R.layers.forEach((layer, li) => {
      if (layer.shape.length !== 1) return;
      const n = layer.shape[0], j = n - 1;
      const cv = mapCanvases[li][0];
      cv.dispatchEvent(new MouseEvent("mousemove", centre(cv, 0, j, 1, n)));
      const box = document.getElementById("computation");
      const value = state.acts[li][j];
      check(state.lastHover.layer === layer.name && state.lastHover.x === j, "hovering " + layer.name + " did not reach unit " + j);
      const computed = Number(box.getAttribute("data-computed"));
      check(Math.abs(computed - value) <= 1e-9 * Math.max(1, Math.abs(value)), layer.name + ": the computation shown gives " + computed + ", the layer holds " + value);
    });
    const lastMap = mapCanvases[R.layers.findIndex((l) => l.shape.length === 3)][0];
    lastMap.dispatchEvent(new MouseEvent("mouseleave"));
    check(state.highlighted.length === 0, "leaving a map did not clear its outlines");
    // The receptive fields of the course network: conv1 3×3, maxp1 4×4, conv2 12×12.
    const rfSide = (name) => { const li = R.layers.findIndex((l) => l.name === name); if (li < 0) return null; const r = receptiveField(li, 3, 3); return [r.y1 - r.y0 + 1, r.x1 - r.x0 + 1]; };
    const expected = { conv1: 3, maxp1: 4, conv2: 12, maxp2: 14, conv3: 34 };
    for (const name in expected) {
      const side = rfSide(name);
      if (side) check(side[0] === expected[name] && side[1] === expected[name], "receptive field of " + name + " is " + side + ", expected " + expected[name]);
    }
    // 4. A click on a confusion cell lists the embedded images of that cell.
    if (N > 0) {
      const e = R.images[N - 1];
      const td = document.querySelector('#confusion td[data-true="' + e.label + '"][data-pred="' + e.predicted + '"]');
      td.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      const want = R.images.filter((f) => f.label === e.label && f.predicted === e.predicted).length;
      check(document.querySelectorAll("#cell-list button").length === want, "the confusion cell lists " + document.querySelectorAll("#cell-list button").length + " images, expected " + want);
    }
    // 5. The drawing path: a test image copied into the drawing gives convlens's logits; a
    // stroke changes the drawing and every layer follows it.
    select(0);
    document.getElementById("copy-selected").dispatchEvent(new MouseEvent("click", { bubbles: true }));
    check(state.source === "drawn", "copying the selected image did not switch to the drawing");
    const drawnOut = state.acts[state.acts.length - 1];
    check(maxDiff(drawnOut, logits.subarray(0, K)) <= 1e-4, "the copied drawing does not give the image's logits");
    if (C === 1) {
      const cv = document.getElementById("draw-canvas");
      const before = state.drawn.slice();
      cv.dispatchEvent(new PointerEvent("pointerdown", centre(cv, 2, 2, S, S)));
      for (let x = 3; x < S - 2; x += 2) cv.dispatchEvent(new PointerEvent("pointermove", centre(cv, 2 + (x % 5), x, S, S)));
      window.dispatchEvent(new PointerEvent("pointerup", { bubbles: true }));
      check(maxDiff(before, state.drawn) > 0.5, "a stroke did not change the drawing");
      const ref = forward(state.drawn);
      check(maxDiff(ref[ref.length - 1], state.acts[state.acts.length - 1]) === 0, "the layers do not show the drawing");
      check(maxDiff(state.input, state.drawn) === 0, "the input shown is not the drawing");
    }
    // An image: a picture twice the run's size made here, resized and converted by the path a
    // loaded file takes after decoding (synchronous, so the test never races the browser).
    const pic = document.createElement("canvas");
    pic.width = 2 * S; pic.height = 2 * S;
    const pctx = pic.getContext("2d");
    pctx.fillStyle = "rgb(0,0,0)"; pctx.fillRect(0, 0, 2 * S, 2 * S);
    pctx.fillStyle = "rgb(255,255,255)"; pctx.fillRect(Math.floor(S / 2), Math.floor(S / 2), S, S);
    const loaded = useImage(pic);
    const mid = Math.floor(S / 2) * S + Math.floor(S / 2);
    check(loaded.length === IMG && loaded[mid] > 0.95 && loaded[0] < 0.05, "a loaded image file did not become the input (" + loaded[mid] + ", " + loaded[0] + ")");
    check(state.source === "drawn" && maxDiff(state.input, loaded) === 0, "the loaded image is not what the layers show");
    // 6. Attribution: shown for an image that has maps, or the way to make them.
    if (attr) {
      select(attr.images[0]);
      check(document.getElementById("attribution-map") !== null && document.getElementById("attribution-overlay") !== null, "no attribution map for an image that has one");
    } else {
      check(document.getElementById("attribution-missing") !== null, "no word on how to make attribution maps");
    }
    // 7. The curves give the values under the pointer; filters and statistics are drawn.
    const curveCanvas = document.querySelector("#curves canvas");
    if (R.history.length && curveCanvas) {
      const r = curveCanvas.getBoundingClientRect();
      curveCanvas.dispatchEvent(new MouseEvent("mousemove", { clientX: r.right - 9, clientY: r.top + r.height / 2, bubbles: true }));
      const last = R.history[R.history.length - 1];
      const text = document.querySelector("#curves .readout").textContent;
      check(text.startsWith("epoch " + last.epoch + ":") && text.includes(last.val_loss.toFixed(4)), "the loss curve's readout says " + JSON.stringify(text));
    }
    const convs = R.layers.filter((l) => l.kind === "conv").length;
    check(document.querySelectorAll("#filters canvas").length >= convs, "not every convolution's filters are drawn");
    check(document.querySelectorAll("#stats tr").length === R.stats.length + (R.stats.length ? 1 : 0), "the statistics table lacks layers");
    // 8. No request: nothing blocked by the policy, nothing loaded.
    check(window.convlensViolations.length === 0, "requests blocked by the Content-Security-Policy: " + window.convlensViolations.join("; "));
    const loadedResources = performance.getEntriesByType("resource").map((e) => e.name);
    check(loadedResources.length === 0, "resources loaded: " + loadedResources.join(", "));
    // Back to the page as it opened.
    state.drawn = new Float64Array(IMG);
    paintDrawing();
    select(0);
    clearHighlights();
    return { fails, worst };
  }

  // ---- Start ---------------------------------------------------------------------------------
  runTable();
  curves();
  strip();
  drawPanel();
  layersView();
  confusion();
  filters();
  stats();
  select(0);
  function runSelftest() {
    const out = document.getElementById("selftest");
    document.getElementById("selftest-section").hidden = false;
    // Synchronous from start to end, after the load event and the tasks queued before it
    // (policy violations among them): the result is written before the browser is idle.
    try {
      const { fails, worst } = selftest();
      out.textContent = fails.length
        ? "FAIL\n" + fails.join("\n")
        : "PASS: " + N + " images, logits within " + worst.toExponential(2) + " of convlens's; clicks, keys, hover, confusion, drawing and images work; no request";
    } catch (e) {
      out.textContent = "FAIL\nthe self-test stopped: " + e + "\n" + (e.stack || "");
    }
  }
  if (new URLSearchParams(location.search).get("selftest") === "1") {
    window.addEventListener("load", () => setTimeout(runSelftest, 0));
  }
})();
