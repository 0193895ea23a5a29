// dense_forward: output[b,o] = bias[o] + Σ_i input[b,i]·W[o,i], then max(·, 0) if relu.  input [B, I], W [O, I], bias [O].
// Both operands are contiguous along i, so each invocation keeps a 4 × 4·COL_VECS block of dot products in registers
// and steps i by 4 with one vec4 load per row of input and of W (see dense_matmul.wgsl for why not workgroup tiles).
override WG_X: u32 = 8;        // invocations along o
override WG_Y: u32 = 8;        // invocations along b
override ALIGNED: bool = true; // I is a multiple of 4: vec4 loads, i steps by 4; otherwise element loads, i steps by 1

const COL_VECS = 2u; // vec4s of output features per invocation

struct Params {
  batch: u32,
  inFeatures: u32,
  outFeatures: u32,
  relu: u32, // 1: max(·, 0)
}

// input and weight are read as vec4s: their bindings must cover whole vec4s (sizes a multiple of 16 bytes).
@group(0) @binding(0) var<storage, read> input: array<vec4f>;
@group(0) @binding(1) var<storage, read> weight: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

// Element reads for I not a multiple of 4.
fn input_at(i: u32) -> f32 { return input[i / 4u][i % 4u]; }
fn weight_at(i: u32) -> f32 { return weight[i / 4u][i % 4u]; }

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let B = params.batch;
  let I = params.inFeatures;
  let O = params.outFeatures;
  let b0 = gid.y * 4u;
  let o0 = gid.x * 4u * COL_VECS;
  if (b0 >= B || o0 >= O) { return; }
  // Start of each row read; rows past the batch and features past O repeat the last (never stored), staying in bounds.
  var input_rows: vec4u;
  for (var r = 0u; r < 4u; r++) { input_rows[r] = min(b0 + r, B - 1u) * I; }
  var weight_rows: array<vec4u, COL_VECS>;
  for (var v = 0u; v < COL_VECS; v++) {
    for (var e = 0u; e < 4u; e++) { weight_rows[v][e] = min(o0 + 4u * v + e, O - 1u) * I; }
  }

  var acc: array<array<vec4f, COL_VECS>, 4>; // acc[r][v] = Σ_i input(b0+r, i)·W(o0+4v..o0+4v+3, i)
  if (ALIGNED) {
    for (var i = 0u; i < I; i += 4u) {
      let x = mat4x4f(input[(input_rows[0] + i) / 4u], input[(input_rows[1] + i) / 4u],
                      input[(input_rows[2] + i) / 4u], input[(input_rows[3] + i) / 4u]); // column r = input row r
      for (var v = 0u; v < COL_VECS; v++) {
        let rows = weight_rows[v];
        let w = mat4x4f(weight[(rows[0] + i) / 4u], weight[(rows[1] + i) / 4u],
                        weight[(rows[2] + i) / 4u], weight[(rows[3] + i) / 4u]); // column e = weight row o0+4v+e
        for (var r = 0u; r < 4u; r++) { acc[r][v] += x[r] * w; } // vector × matrix: four dot products
      }
    }
  } else {
    for (var i = 0u; i < I; i++) {
      var x: vec4f;
      for (var r = 0u; r < 4u; r++) { x[r] = input_at(input_rows[r] + i); }
      for (var v = 0u; v < COL_VECS; v++) {
        let rows = weight_rows[v];
        let w = vec4f(weight_at(rows[0] + i), weight_at(rows[1] + i), weight_at(rows[2] + i), weight_at(rows[3] + i));
        for (var r = 0u; r < 4u; r++) { acc[r][v] += x[r] * w; }
      }
    }
  }

  for (var v = 0u; v < COL_VECS; v++) {
    for (var e = 0u; e < 4u; e++) {
      let o = o0 + 4u * v + e;
      if (o < O) {
        let bias_o = bias[o];
        for (var r = 0u; r < 4u; r++) {
          let b = b0 + r;
          if (b < B) {
            var value = acc[r][v][e] + bias_o;
            if (params.relu != 0u) { value = max(value, 0.0); }
            output[b * O + o] = value;
          }
        }
      }
    }
  }
}
