import { loadConfig } from '@jibe/config';
import { createDataSource } from './data-source';

/** The data source the TypeORM CLI loads (`npm run migration:generate`). */
export default createDataSource(loadConfig().database.url);
