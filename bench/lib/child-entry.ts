/**
 * The child side of `callInChild` (`child.ts`): imports the module it is told, calls the named
 * export with the given parameters, sends back the result and exits.
 */
import type { ChildAnswer, ChildCall } from './child.js';

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

async function answer(call: ChildCall): Promise<ChildAnswer> {
  try {
    const module = (await import(call.module)) as Record<string, unknown>;
    const exported = module[call.exportName];
    if (typeof exported !== 'function') {
      return { error: `${call.module} exports no function ${call.exportName}` };
    }
    const result: unknown = await (exported as (params: unknown) => unknown)(call.params);
    return { result };
  } catch (error) {
    return { error: describe(error) };
  }
}

if (!process.send) throw new Error('child-entry must be started by callInChild');
process.once('message', (message: unknown) => {
  void answer(message as ChildCall).then((reply) => {
    process.send?.(reply, () => process.exit(0));
  });
});
process.once('disconnect', () => process.exit(1));
