// WebGPU device setup on Dawn (the `webgpu` package): one adapter, one device, chosen by a setting.
import { create, globals } from 'webgpu';

export type Backend = 'vulkan' | 'gles';

export interface Gpu {
  device: GPUDevice;
  backend: Backend;
  /** One line naming the adapter, e.g. "vulkan: llvmpipe (LLVM 19.1.7, 256 bits) [mesa]". */
  description: string;
  limits: GPUSupportedLimits;
  /** Features the device was created with (e.g. 'timestamp-query' where the adapter has it). */
  features: ReadonlySet<string>;
}

export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

export const INSTALL_HINT =
  'No WebGPU adapter. On Debian 12 without a GPU install Mesa\'s software Vulkan driver from bookworm-backports ' +
  '(bash scripts/setup.sh does it: apt-get install -y -t bookworm-backports mesa-vulkan-drivers), ' +
  'or use the OpenGL ES backend with SEED_BACKEND=gles (needs libegl1 and libgles2).';

/** SEED_BACKEND=vulkan|gles picks the backend; otherwise Vulkan on a real GPU, OpenGL ES on a software one or when Vulkan is missing. */
export function backendFromEnv(env: Record<string, string | undefined> = process.env): Backend | 'auto' {
  const value = (env.SEED_BACKEND ?? 'auto').toLowerCase();
  if (value === 'vulkan' || value === 'gles' || value === 'auto') return value;
  if (value === 'opengles' || value === 'gl') return 'gles';
  throw new Error(`SEED_BACKEND must be vulkan, gles or auto, not "${env.SEED_BACKEND}"`);
}

let globalsInstalled = false;
function installGlobals(): void {
  if (globalsInstalled) return;
  // GPUBufferUsage, GPUShaderStage, ... are read by our code as globals, as in a browser.
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

// The GPU instances live as long as the process: a collected instance takes its devices down with it.
const instances = new Map<Backend, GPU>();

async function requestAdapter(backend: Backend): Promise<GPUAdapter | null> {
  if (backend === 'gles') process.env.EGL_PLATFORM ??= 'surfaceless';
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  let gpu = instances.get(backend);
  if (!gpu) {
    gpu = create([backend === 'vulkan' ? 'backend=vulkan' : 'backend=opengles']);
    instances.set(backend, gpu);
  }
  const options: GPURequestAdapterOptions & { featureLevel?: string } =
    backend === 'gles' ? { featureLevel: 'compatibility' } : { featureLevel: 'core' };
  return gpu.requestAdapter(options);
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader/i;

const cache = new Map<string, Promise<Gpu>>();

/** The process-wide device for a backend (see backendFromEnv for 'auto'). Logs the adapter once. */
export function getGpu(choice: Backend | 'auto' = backendFromEnv(), log: (line: string) => void = () => {}): Promise<Gpu> {
  let pending = cache.get(choice);
  if (!pending) {
    pending = createGpu(choice, log);
    pending.catch(() => cache.delete(choice));
    cache.set(choice, pending);
  }
  return pending;
}

/**
 * The adapter for a choice: the named backend, or for 'auto' Vulkan, except that a software Vulkan adapter (Mesa's
 * llvmpipe, where the OpenGL ES backend ran our kernels 1.5-2x faster) gives way to OpenGL ES when that exists.
 */
async function chooseAdapter(choice: Backend | 'auto', log: (line: string) => void): Promise<{ adapter: GPUAdapter; backend: Backend } | null> {
  if (choice !== 'auto') {
    const adapter = await requestAdapter(choice);
    return adapter && { adapter, backend: choice };
  }
  const vulkan = await requestAdapter('vulkan');
  if (vulkan && !SOFTWARE_ADAPTER.test(`${vulkan.info.description} ${vulkan.info.device}`)) return { adapter: vulkan, backend: 'vulkan' };
  const gles = await requestAdapter('gles');
  if (gles) {
    if (vulkan) log('webgpu auto: vulkan is a software adapter, using gles (set SEED_BACKEND=vulkan to override)');
    return { adapter: gles, backend: 'gles' };
  }
  return vulkan && { adapter: vulkan, backend: 'vulkan' };
}

export async function createGpu(choice: Backend | 'auto' = 'auto', log: (line: string) => void = () => {}): Promise<Gpu> {
  installGlobals();
  const found = await chooseAdapter(choice, log);
  if (!found) throw new NoAdapterError(`${INSTALL_HINT} (tried: ${choice === 'auto' ? 'vulkan, gles' : choice})`);
  const { adapter, backend } = found;
  // Ask for everything the adapter allows: compatibility mode starts from lower defaults (4 storage buffers).
  const wanted = [
    'maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize',
    'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension', 'maxUniformBuffersPerShaderStage',
    'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const key of wanted) requiredLimits[key] = adapter.limits[key];
  const requiredFeatures = (['timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ label: `seed-${backend}`, requiredLimits, requiredFeatures });
  // Dawn's threads abort the process if it exits with a live device: destroy it on the way out.
  process.once('exit', () => device.destroy());
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    console.error(`WebGPU error: ${error.message}`);
  });
  const info = adapter.info;
  const name = [info.description || info.device, info.vendor && `[${info.vendor}]`].filter(Boolean).join(' ');
  const description = `${backend}: ${name || 'unknown adapter'}`;
  const limits = device.limits;
  log(`webgpu ${description}; limits: ${limits.maxComputeInvocationsPerWorkgroup} invocations/workgroup, ` +
    `${limits.maxStorageBuffersPerShaderStage} storage buffers/stage, ${limits.maxComputeWorkgroupStorageSize} B workgroup memory, ` +
    `${(limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB per binding`);
  return { device, backend, description, limits, features: new Set(device.features as unknown as Iterable<string>) };
}
