import type { Command } from 'commander';
import type { CliIo } from './cli-io.js';

export function registerMigrateCommand(program: Command, io: CliIo): void {
  program
    .command('migrate')
    .description("apply the database's pending migrations and exit (run it as the schema's owner when the mesh runs as a role of less privilege)")
    .action(async () => {
      const { openDatabase } = await import('./database.js');
      const { db, where, applied, created } = await openDatabase('migrate', io.env);
      await db.close();
      const made = created ? 'made a new embedded database (there was none); ' : '';
      io.stdout.write(applied.length > 0 ? `${where}: ${made}applied migration(s) ${applied.join(', ')}\n` : `${where}: ${made}the schema is up to date\n`);
    });
}
