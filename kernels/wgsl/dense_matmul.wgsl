// dense_matmul: C[M,N] (+)= Σ_k A(m,k)·B[k,n], the two dense gradients as one product specialised by overrides:
//   dense_backward_input:  gradInput[b,i]  = Σ_o gradOutput[b,o]·W[o,i]     A = gradOutput [M=B, K=O], B = W [K=O, N=I]
//   dense_backward_weight: gradWeight[o,i] = Σ_b gradOutput[b,o]·input[b,i] A = gradOutput stored [K=B, M=O]
//                                                                           (A_TRANSPOSED), B = input [K=B, N=I]
// Each invocation keeps a 4 × 4·COL_VECS block of C in registers. On llvmpipe every load whose address depends on the
// loop runs as a scalar loop over the SIMD lanes, workgroup memory included, so speed comes from few loads per
// multiply-add (register blocking, vec4 loads), not from staging tiles in workgroup memory, which measured slower.
override WG_X: u32 = 8;              // invocations along n
override WG_Y: u32 = 8;              // invocations along m
override A_TRANSPOSED: bool = false; // A stored K×M (m contiguous) instead of M×K
override ALIGNED: bool = true;       // A's contiguous extent (K, or M if transposed) and N are multiples of 4:
                                     // vec4 loads, k steps by 4; otherwise element loads, k steps by 1

const COL_VECS = 2u; // vec4s of columns of C per invocation

struct Params {
  M: u32,
  N: u32,
  K: u32,
  accumulate: u32, // 1: C += product
}

// A and B are read as vec4s: their bindings must cover whole vec4s (sizes a multiple of 16 bytes).
@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read> b: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

// Element reads for extents that are not multiples of 4.
fn a_at(i: u32) -> f32 { return a[i / 4u][i % 4u]; }
fn b_at(i: u32) -> f32 { return b[i / 4u][i % 4u]; }

// Rows past M and columns past N repeat the last one (never stored), so every load stays in bounds.
fn a_row(m: u32) -> u32 { return min(m, params.M - 1u); }
fn b_column(n: u32) -> u32 { return min(n, params.N - 1u); }

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u * COL_VECS;
  if (m0 >= M || n0 >= N) { return; }

  var acc: array<array<vec4f, COL_VECS>, 4>; // acc[r][v] = C(m0+r, n0+4v..n0+4v+3)
  if (ALIGNED) {
    for (var k = 0u; k < K; k += 4u) {
      var a_block: mat4x4f; // column j = A(m0..m0+3, k+j)
      if (A_TRANSPOSED) {
        // K (the batch) need not be a multiple of 4: rows past it read as 0.
        for (var j = 0u; j < 4u; j++) {
          a_block[j] = select(vec4f(0.0), a[(min(k + j, K - 1u) * M + m0) / 4u], k + j < K);
        }
      } else {
        a_block = transpose(mat4x4f(a[(a_row(m0) * K + k) / 4u], a[(a_row(m0 + 1u) * K + k) / 4u],
                                    a[(a_row(m0 + 2u) * K + k) / 4u], a[(a_row(m0 + 3u) * K + k) / 4u]));
      }
      for (var j = 0u; j < 4u; j++) {
        let row = min(k + j, K - 1u) * N;
        for (var v = 0u; v < COL_VECS; v++) {
          let b_row = select(vec4f(0.0), b[(row + min(n0 + 4u * v, N - 4u)) / 4u], k + j < K);
          for (var r = 0u; r < 4u; r++) { acc[r][v] += a_block[j][r] * b_row; }
        }
      }
    }
  } else {
    for (var k = 0u; k < K; k++) {
      var a_column: vec4f; // A(m0..m0+3, k)
      for (var r = 0u; r < 4u; r++) {
        a_column[r] = a_at(select(a_row(m0 + r) * K + k, k * M + a_row(m0 + r), A_TRANSPOSED));
      }
      for (var v = 0u; v < COL_VECS; v++) {
        let n = n0 + 4u * v;
        let b_row = vec4f(b_at(k * N + b_column(n)), b_at(k * N + b_column(n + 1u)),
                          b_at(k * N + b_column(n + 2u)), b_at(k * N + b_column(n + 3u)));
        for (var r = 0u; r < 4u; r++) { acc[r][v] += a_column[r] * b_row; }
      }
    }
  }

  for (var r = 0u; r < 4u; r++) {
    for (var v = 0u; v < COL_VECS; v++) {
      for (var e = 0u; e < 4u; e++) {
        let m = m0 + r;
        let n = n0 + 4u * v + e;
        if (m < M && n < N) {
          let i = m * N + n;
          var value = acc[r][v][e];
          if (params.accumulate != 0u) { value += c[i]; }
          c[i] = value;
        }
      }
    }
  }
}
