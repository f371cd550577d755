// Build-time only (tsup.config.ts): tfjs-core's gradient functions, rewired to the user's tfjs-core.
//
// tfjs-core's bundles carry no gradients; they ship only as extensionless ESM files
// (dist/register_all_gradients.js, dist/gradients/*_grad.js) that Node cannot import, and bundling them
// as they are pulls ~230 tfjs-core modules (ops, engine, util: ~400 KB) into dist, a second copy of
// tfjs-core beside the user's. This plugin bundles the gradient definitions only: every import they
// make from the rest of tfjs-core is replaced by the same name read off the public
// `@tensorflow/tfjs-core` module (kept external), so each gradient calls the user's ops and registers
// with the user's `registerGradient`. The few backprop ops that tfjs-core does not export
// (ops/max_pool_grad.js and kin: an argument check, then `ENGINE.runKernel(<kernel>)`) are bundled the
// same way. The build fails on any other import it cannot map, so a tfjs-core upgrade that moves a
// name cannot silently bring the copy back (test/tfjs-dist.test.ts checks the output).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core');
const DIST = resolve(dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist');
const PUBLIC = '__tfjsCore';

// Namespace imports and where the public module exposes the same functions.
const NAMESPACES = { util: 'util', 'ops/axis_util': 'backend_util', 'ops/broadcast_util': 'backend_util', 'ops/conv_util': 'backend_util', 'ops/selu_util': 'backend_util', 'ops/slice_util': 'slice_util' };
// Names the public module exposes under another form.
const SPECIAL = {
  ENGINE: `${PUBLIC}.engine()`,
  // Gradient code hands these wrappers tensors only; tfjs-core's convertToTensor is not public.
  convertToTensor: `((x) => x instanceof ${PUBLIC}.Tensor ? x : ${PUBLIC}.tensor(x))`,
};
const LOOKUP = ['', 'backend_util', 'slice_util', 'util'];

/** The public expression for `name` imported from tfjs-core module `mod` (dist-relative), or null. */
function publicName(name, mod) {
  if (SPECIAL[name]) return SPECIAL[name];
  if (mod === 'base' && name in tf) return `${PUBLIC}.${name}`;
  for (const ns of LOOKUP) {
    const holder = ns ? tf[ns] : tf;
    if (holder && name in holder) return ns ? `${PUBLIC}.${ns}.${name}` : `${PUBLIC}.${name}`;
  }
  return null;
}

const IMPORT = /^import\s+(?:\*\s+as\s+(\w+)|\{([^}]*)\})\s+from\s+'([^']+)';?[ \t]*$/gm;

/** Rewrites one tfjs-core file; `file` is absolute. Throws on an import it cannot place. */
export function rewireToPublicTfjs(source, file) {
  const here = relative(DIST, file).replace(/\\/g, '/');
  let used = false;
  const out = source.replace(IMPORT, (stmt, ns, names, spec) => {
    if (!spec.startsWith('.')) throw new Error(`tfjs gradients: ${here} imports '${spec}'`);
    const mod = relative(DIST, resolve(dirname(file), spec)).replace(/\\/g, '/').replace(/\.js$/, '');
    if (mod.startsWith('gradients/')) return stmt; // the gradient definitions themselves
    if (ns) {
      const target = NAMESPACES[mod];
      if (!target) throw new Error(`tfjs gradients: ${here} imports * as ${ns} from '${mod}', which has no public namespace mapping`);
      for (const m of source.matchAll(new RegExp(`\\b${ns}\\.(\\w+)`, 'g'))) {
        if (!(m[1] in tf[target])) throw new Error(`tfjs gradients: ${here} uses ${ns}.${m[1]}, missing from the public tf.${target}`);
      }
      used = true;
      return `const ${ns} = ${PUBLIC}.${target};`;
    }
    const kept = [];
    const decls = [];
    for (const part of names.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [name, alias = name] = part.split(/\s+as\s+/);
      const expr = publicName(name, mod);
      if (expr) decls.push(`const ${alias} = ${expr};`);
      else if (mod.startsWith('ops/')) kept.push(part); // a backprop op wrapper tfjs-core does not export
      else throw new Error(`tfjs gradients: ${here} imports ${name} from '${mod}', which the public @tensorflow/tfjs-core does not export`);
    }
    used ||= decls.length > 0;
    return [kept.length ? `import { ${kept.join(', ')} } from '${spec}';` : '', ...decls].filter(Boolean).join('\n');
  });
  return used ? `import * as ${PUBLIC} from '@tensorflow/tfjs-core';\n${out}` : out;
}

/** esbuild plugin: applies {@link rewireToPublicTfjs} to every tfjs-core file the bundle takes in. */
export const tfjsGradientsPlugin = {
  name: 'tfjs-gradients-public',
  setup(build) {
    build.onLoad({ filter: /[\\/]@tensorflow[\\/]tfjs-core[\\/]dist[\\/].*\.js$/ }, (args) => ({
      contents: rewireToPublicTfjs(readFileSync(args.path, 'utf8'), args.path),
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};
