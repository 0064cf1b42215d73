import { type StageDefinition, StageRegistry } from '@jibe/domain';
import { checkPreconditionsStage } from './check-preconditions/check-preconditions.stage';
import { bakeManifestStage } from './bake-manifest/bake-manifest.stage';
import { createNamespaceStage } from './create-namespace/create-namespace.stage';
import { dbRefreshStage } from './db-refresh/db-refresh.stage';
import { deleteManifestStage } from './delete-manifest/delete-manifest.stage';
import { deployManifestStage } from './deploy-manifest/deploy-manifest.stage';
import { disableManifestStage } from './disable-manifest/disable-manifest.stage';
import { enableManifestStage } from './enable-manifest/enable-manifest.stage';
import { manualJudgmentStage } from './manual-judgment/manual-judgment.stage';
import { pipelineStage } from './pipeline/pipeline.stage';
import { rollingRestartManifestStage } from './rolling-restart-manifest/rolling-restart-manifest.stage';
import { runJobManifestStage } from './run-job-manifest/run-job-manifest.stage';
import { scaleManifestStage } from './scale-manifest/scale-manifest.stage';
import { undoRolloutManifestStage } from './undo-rollout-manifest/undo-rollout-manifest.stage';
import { waitStage } from './wait/wait.stage';

/** Every stage type Jibe knows. Adding a type is one line here (and a folder beside this file). */
export const stageDefinitions: readonly StageDefinition[] = [
  waitStage,
  manualJudgmentStage,
  checkPreconditionsStage,
  pipelineStage,
  deployManifestStage,
  scaleManifestStage,
  enableManifestStage,
  disableManifestStage,
  deleteManifestStage,
  undoRolloutManifestStage,
  rollingRestartManifestStage,
  createNamespaceStage,
  runJobManifestStage,
  dbRefreshStage,
  bakeManifestStage,
];

/** The registry built from {@link stageDefinitions}; it refuses duplicate types when the module loads. */
export const stageRegistry = new StageRegistry(stageDefinitions);

export { waitStage, manualJudgmentStage, checkPreconditionsStage, pipelineStage, deployManifestStage };
export { TemplateSourcePort } from './bake-manifest/template-source.port';
export { GitTemplateSourceAdapter } from './bake-manifest/git-template-source.adapter';
export { ChildPipelinePort } from './pipeline/child-pipeline.port';
export {
  ClusterPort,
  ClusterError,
  type KubeObject,
  type ObjectRef,
  type ObjectStatus,
  type ListQuery,
  type WriteOptions,
  type DeleteOptions,
} from './cluster-kit/cluster.port';
export { LABELS, ANNOTATIONS, MANAGED_BY_JIBE } from './cluster-kit/labels';
