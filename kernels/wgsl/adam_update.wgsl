// adam_update (AdamW, decoupled weight decay), one invocation per parameter i, step t ≥ 1:
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr·( m̂/(√v̂ + ε) + weightDecay·p ),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
// state holds (m_i, v_i) side by side, so one vec2 per parameter; 1/(1−β^t) comes precomputed from the CPU.
override WG: u32 = 64;

struct Params {
  count: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  epsilon: f32,
  weightDecay: f32,
  correction1: f32, // 1 / (1 − β1^t)
  correction2: f32, // 1 / (1 − β2^t)
}

@group(0) @binding(0) var<storage, read> grads: array<f32>;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<vec2f>;
@group(0) @binding(3) var<uniform> hyper: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * WG;
  if (i >= hyper.count) { return; }
  let g = grads[i];
  let moments = state[i];
  let m = hyper.beta1 * moments.x + (1.0 - hyper.beta1) * g;
  let v = hyper.beta2 * moments.y + (1.0 - hyper.beta2) * g * g;
  state[i] = vec2f(m, v);
  let p = params[i];
  let step = (m * hyper.correction1) / (sqrt(v * hyper.correction2) + hyper.epsilon);
  params[i] = p - hyper.lr * (step + hyper.weightDecay * p);
}
