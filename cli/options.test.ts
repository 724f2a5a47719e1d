import { Command, type Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMPONENT_CLIS } from './components.ts';

function allOptions(command: Command, path: string[] = []): [string, Option][] {
  return [
    ...command.options.map((option): [string, Option] => [[...path, command.name()].join(' '), option]),
    ...command.commands.flatMap((sub) => allOptions(sub, [...path, command.name()])),
  ];
}

describe('the CLI', () => {
  it('takes no secret as an option: argv shows in `ps` (secrets come from the environment or files)', async () => {
    const program = new Command().name('fleetgrid');
    for (const path of COMPONENT_CLIS) {
      const module = (await import(path)) as { register(program: Command): void };
      module.register(program);
    }
    const options = allOptions(program);
    expect(options.length).toBeGreaterThan(20);
    const secretive = options
      .filter(([, option]) => /token|secret|password|passwd|credential|api-?key/i.test(option.long ?? ''))
      .map(([command, option]) => `${command} ${option.long}`);
    expect(secretive).toEqual([]);
  });
});
