/** The component CLIs the one CLI registers (each declares its commands in `register`). */
export const COMPONENT_CLIS = [
  '../producers/cli.ts',
  '../processors/cli.ts',
  '../sinks/cli.ts',
  '../query/cli.ts',
  '../query/alerts-cli.ts',
  '../registry/cli.ts',
  '../notify/cli.ts',
  '../loadtest/cli.ts',
  './admin.ts',
  './demo.ts',
] as const;
