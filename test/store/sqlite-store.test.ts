import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { tempDataDir } from '../helpers/server';
import { storeContract } from './store-contract';

storeContract('sqlite', async () => {
  const file = path.join(tempDataDir(), 'nested', 'gif-chat.db');
  return { store: openSqliteStore(file), reopen: async () => openSqliteStore(file) };
});
