import { intFlag, LeanformerError } from '@leanformer/core';
import { commandProgressBar } from '@leanformer/core/node';
import { cliBackend, cliBackendNames } from '../backends.js';
import { ONNX_TOLERANCE } from '@leanformer/core';
import { runConformance } from '../conformance.js';
import type { Command } from '../registry.js';

/** `leanformer conformance <dir> [--backend …] [--direct] [--json]` */
export const conformanceCommand: Command = {
  name: 'conformance',
  summary: 'Run every ONNX test case under a folder (model.onnx + test_data_set_*) and compare with the expected outputs.',
  positionals: ['<dir>'],
  options: {
    backend: { type: 'string', arg: '<name>', description: `one of ${cliBackendNames().join(', ')} (default ort-cpu)` },
    direct: { type: 'boolean', description: 'run the model files as-is, without the IR (baseline)' },
    threads: { type: 'string', arg: '<N>', description: 'intra-op threads (runtime default when absent)' },
    json: { type: 'boolean', description: 'print { total, passed, failed, errored, cases: [{ name, status, reason }] }' },
  },
  details: `Tolerances are ONNX's: |got - expected| <= ${ONNX_TOLERANCE.atol} + ${ONNX_TOLERANCE.rtol} * |expected| for floats, NaN equal to NaN;
integers, bools and strings must match exactly. A case whose model or data cannot be loaded or run is 'errored'
with the reason. Exit status: 0 when the suite ran (whatever the results), 1 when it could not (or found no
cases), 2 on bad usage.`,
  async run({ positionals, values, io }) {
    const name = (values['backend'] as string | undefined) ?? 'ort-cpu';
    const threads = intFlag('threads', values['threads'], { min: 1 });
    const backend = await cliBackend(name).create(threads ? { threads } : {});
    const bar = commandProgressBar(io, values);
    let report;
    try { report = await runConformance(positionals[0]!, backend, { direct: Boolean(values['direct']), onProgress: bar.update }); } finally { bar.done(); }
    if (report.total === 0) throw new LeanformerError('INVALID_ARGUMENT', `no cases found under ${positionals[0]!}: a case is a folder with model.onnx and test_data_set_* folders`, { details: { path: positionals[0]! } });
    if (values['json']) {
      io.out(`${JSON.stringify(report)}\n`);
    } else {
      const lines = report.cases.filter((c) => c.status !== 'passed').map((c) => `${c.status.padEnd(7)} ${c.name}: ${c.reason}`);
      lines.push(`${report.passed}/${report.total} passed, ${report.failed} failed, ${report.errored} errored (${name}${values['direct'] ? ', direct' : ''})`);
      io.out(lines.join('\n') + '\n');
    }
    return 0;
  },
};
