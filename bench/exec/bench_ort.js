// bench_ort.js - time onnxruntime-node (CPU) on one ONNX file, same input
// pattern and timing loop as bench_exec.c.
// Usage: node bench_ort.js MODEL.onnx THREADS BATCH [BATCH...]
const ort = require('onnxruntime-node');

async function main() {
  const [model, threadsArg, ...batches] = process.argv.slice(2);
  const threads = parseInt(threadsArg, 10);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const name = sess.inputNames[0];
  // Row shape from the model's signature is not exposed; fixtures are
  // [N,784] or [N,1,28,28].
  const rowShape = model.includes('cnn') ? [1, 28, 28] : [784];
  const rowElems = rowShape.reduce((a, b) => a * b, 1);
  for (const b of batches) {
    const rows = parseInt(b, 10);
    const x = new Float32Array(rows * rowElems);
    let s = 12345;
    for (let i = 0; i < x.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      x[i] = (s >>> 8) / 16777216;
    }
    const feeds = { [name]: new ort.Tensor('float32', x, [rows, ...rowShape]) };
    for (let w = 0; w < 3; w++) await sess.run(feeds);
    const t0 = process.hrtime.bigint();
    let iters = 0, t = 0;
    do {
      await sess.run(feeds);
      iters++;
      t = Number(process.hrtime.bigint() - t0) / 1e9;
    } while (t < 0.5 || iters < 3);
    console.log(`batch=${rows} ms_per_run=${(t * 1e3 / iters).toFixed(4)} rows_per_s=${Math.round(rows * iters / t)}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
