import { PipelineStore1795314032695 } from './1795314032695-PipelineStore';
import { Executions1795314855607 } from './1795314855607-Executions';

/** Every migration, in order. `npm run migration:generate -- migrations/<Name>` writes a file here; add its class to this list. */
export const migrations: (new () => object)[] = [PipelineStore1795314032695, Executions1795314855607];
