// bench_ort.js - time onnxruntime-node (CPU) on one ONNX file, same input
// pattern and timing loop as bench_exec.c.
// Usage: node bench_ort.js MODEL.onnx THREADS [--inputs DIR] BATCH [BATCH...]
// With --inputs, input I is DIR/input_I.npy with its rows repeated to the
// batch size (as bench_exec does).
const fs = require('fs');
const ort = require('onnxruntime-node');

// A C-order little-endian .npy (v1/v2) of float32, int64 or int32.
function readNpy(path) {
  const b = fs.readFileSync(path);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const off = major === 1 ? 10 + hlen : 12 + hlen;
  const h = b.toString('latin1', major === 1 ? 10 : 12, off);
  const descr = /'descr':\s*'([^']+)'/.exec(h)[1];
  if (/'fortran_order':\s*True/.test(h)) throw new Error(`${path}: fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(h)[1].split(',')
    .map((s) => s.trim()).filter((s) => s).map(Number);
  const types = { '<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array],
                  '<i4': ['int32', Int32Array] };
  if (!types[descr]) throw new Error(`${path}: dtype ${descr}`);
  const [type, Arr] = types[descr];
  const n = shape.reduce((a, c) => a * c, 1);
  const data = new Arr(b.buffer.slice(b.byteOffset + off, b.byteOffset + off + n * Arr.BYTES_PER_ELEMENT));
  return { type, Arr, shape, data };
}

function tile(a, rows) {
  const row = a.data.length / a.shape[0];
  const out = new a.Arr(rows * row);
  for (let r = 0; r < rows; r++)
    out.set(a.data.subarray((r % a.shape[0]) * row, (r % a.shape[0] + 1) * row), r * row);
  return new ort.Tensor(a.type, out, [rows, ...a.shape.slice(1)]);
}

async function main() {
  let [model, threadsArg, ...batches] = process.argv.slice(2);
  let dir = null;
  if (batches[0] === '--inputs') { dir = batches[1]; batches = batches.slice(2); }
  const threads = parseInt(threadsArg, 10);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const arrays = dir ? sess.inputNames.map((_, i) => readNpy(`${dir}/input_${i}.npy`)) : null;
  // Row shape from the model's signature is not exposed; fixtures are
  // [N,784] or [N,1,28,28].
  const rowShape = model.includes('cnn') ? [1, 28, 28] : [784];
  const rowElems = rowShape.reduce((a, b) => a * b, 1);
  for (const b of batches) {
    const rows = parseInt(b, 10);
    let feeds = {};
    if (arrays) {
      sess.inputNames.forEach((n, i) => { feeds[n] = tile(arrays[i], rows); });
    } else {
      const x = new Float32Array(rows * rowElems);
      let s = 12345;
      for (let i = 0; i < x.length; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        x[i] = (s >>> 8) / 16777216;
      }
      feeds = { [sess.inputNames[0]]: new ort.Tensor('float32', x, [rows, ...rowShape]) };
    }
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
