// The one entry point of the command-line programs: `tsx scripts/src/main.ts COMMAND [flags]`, which is what each
// root `pnpm COMMAND` runs. Every command is a module exporting `main(argv)`; nothing else runs on import.
import { runMain, UsageError } from './lib/cli';

type Command = () => Promise<{ main: (argv: string[]) => Promise<void> }>;

// Loaded on demand: Dawn, TensorFlow.js and ONNX Runtime take seconds to import, and most commands need none of them.
const COMMANDS: Record<string, Command> = {
  start: () => import('./evolve/start'),
  evolve: () => import('./evolve/evolve'),
  simulate: () => import('./evolve/simulate'),
  train: () => import('./train/train'),
  'experiment:labels': () => import('./experiments/labels'),
  'experiment:rewards': () => import('./experiments/rewards'),
  'experiment:poison': () => import('./experiments/poison'),
  'experiment:gate': () => import('./experiments/gate'),
  'experiment:features': () => import('./experiments/features'),
  fuzz: () => import('./reliability/fuzz'),
  soak: () => import('./reliability/soak'),
  bench: () => import('./bench/bench'),
  'bench:docs': () => import('./bench/docs'),
  'bench:requests': () => import('./bench/request_cost'),
  profile: () => import('./bench/profile'),
  'export-onnx': () => import('./interop/export_onnx'),
  'build:wasm': () => import('./build/wasm'),
};

const [name, ...argv] = process.argv.slice(2);
runMain(async () => {
  const command = name === undefined ? undefined : COMMANDS[name];
  if (!command) throw new UsageError(`usage: main.ts COMMAND [flags]; COMMAND is one of ${Object.keys(COMMANDS).join(', ')}`);
  await (await command()).main(argv);
});
