// Commands that live in other leanformer packages, loaded on first use so `leanformer run` never pays for
// them. Each row names the module, the commands it provides and its factory; the modules import their
// own model I/O (@leanformer/onnx/node), so the CLI hands them nothing.
import { LeanformerError } from '@leanformer/core';
import { getCommand, registerCommand, type Command } from '../registry.js';

interface Extension {
  /** Package subpath; imported with a computed specifier so neither tsc nor the bundler needs it at build time. */
  readonly module: string;
  readonly commands: readonly string[];
  build(mod: Record<string, unknown>): Promise<readonly Command[]>;
}

const EXTENSIONS: readonly Extension[] = [
  {
    module: '@leanformer/quant/cli',
    commands: ['quantize', 'sparsify', 'pack', 'unpack'],
    async build(mod) {
      const make = mod['quantCommands'];
      if (typeof make !== 'function') throw new LeanformerError('NOT_SUPPORTED', '@leanformer/quant/cli does not export quantCommands');
      return (make as () => Command[])();
    },
  },
  {
    module: '@leanformer/vision/cli',
    commands: ['zoo'],
    async build(mod) {
      const make = mod['zooCommand'];
      if (typeof make !== 'function') throw new LeanformerError('NOT_SUPPORTED', '@leanformer/vision/cli does not export zooCommand');
      return [(make as () => Command)()];
    },
  },
  {
    module: '@leanformer/peft/cli',
    commands: ['finetune', 'lora'],
    async build(mod) {
      const make = mod['peftCommands'];
      if (typeof make !== 'function') throw new LeanformerError('NOT_SUPPORTED', '@leanformer/peft/cli does not export peftCommands');
      return (make as () => Command[])();
    },
  },
  {
    module: '@leanformer/models/cli',
    commands: ['convert', 'generate', 'tokenize'],
    async build(mod) {
      const make = mod['modelsCommands'];
      if (typeof make !== 'function') throw new LeanformerError('NOT_SUPPORTED', '@leanformer/models/cli does not export modelsCommands');
      return (make as () => Command[])();
    },
  },
];

const loaded = new Map<Extension, Promise<void>>();

function load(ext: Extension): Promise<void> {
  let p = loaded.get(ext);
  if (!p) {
    p = (async () => {
      const spec = ext.module;
      const mod = (await import(/* @vite-ignore */ spec)) as Record<string, unknown>;
      for (const c of await ext.build(mod)) if (!getCommand(c.name)) registerCommand(c);
    })();
    loaded.set(ext, p);
  }
  return p;
}

/**
 * Registers the extension that provides `name`, if any. Throws BACKEND_UNAVAILABLE naming the package
 * when it cannot be loaded (not built, not installed).
 */
export async function loadExtensionFor(name: string): Promise<void> {
  const ext = EXTENSIONS.find((e) => e.commands.includes(name));
  if (!ext || getCommand(name)) return;
  try {
    await load(ext);
  } catch (e) {
    loaded.delete(ext);
    throw new LeanformerError('BACKEND_UNAVAILABLE', `command '${name}' needs ${ext.module.replace(/\/cli$/, '')}, which could not be loaded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Loads every extension it can (for `leanformer --help`); returns the ones that failed, with reasons. */
export async function loadAllExtensions(): Promise<string[]> {
  const failed: string[] = [];
  for (const ext of EXTENSIONS) {
    try { await load(ext); } catch (e) { loaded.delete(ext); failed.push(`${ext.commands.join(', ')} (${ext.module}: ${e instanceof Error ? e.message : String(e)})`); }
  }
  return failed;
}
