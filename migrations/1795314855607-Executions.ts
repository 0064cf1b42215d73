import { MigrationInterface, QueryRunner } from "typeorm";

export class Executions1795314855607 implements MigrationInterface {
    name = 'Executions1795314855607'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "executions" ("id" text NOT NULL, "application" text NOT NULL, "pipeline_id" text, "pipeline_version" integer, "name" text NOT NULL, "status" text NOT NULL, "trigger" jsonb NOT NULL, "pipeline_config" jsonb NOT NULL, "waiting" boolean NOT NULL DEFAULT false, "canceled" boolean NOT NULL DEFAULT false, "canceled_by" text, "cancellation_reason" text, "paused_at" bigint, "paused_ms" bigint NOT NULL DEFAULT '0', "parent_execution_id" text, "parent_stage_id" text, "build_time" bigint NOT NULL, "start_time" bigint, "end_time" bigint, "due_message" text, "due_seq" integer NOT NULL DEFAULT '0', "due_at" bigint, CONSTRAINT "PK_703e64e0ef651986191844b7b8b" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "executions_due_idx" ON "executions"  ("due_at") WHERE due_message IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "executions_status_idx" ON "executions"  ("status") `);
        await queryRunner.query(`CREATE INDEX "executions_application_build_idx" ON "executions"  ("application", "build_time") `);
        await queryRunner.query(`CREATE INDEX "executions_pipeline_build_idx" ON "executions"  ("pipeline_id", "build_time") `);
        await queryRunner.query(`CREATE TABLE "execution_stages" ("id" text NOT NULL, "execution_id" text NOT NULL, "position" integer NOT NULL, "ref_id" text NOT NULL, "type" text NOT NULL, "name" text NOT NULL, "requisite_stage_ref_ids" jsonb NOT NULL, "config" jsonb NOT NULL, "status" text NOT NULL, "context" jsonb NOT NULL, "outputs" jsonb NOT NULL, "tasks" jsonb NOT NULL, "error" jsonb, "start_time" bigint, "paused_ms_at_start" bigint NOT NULL DEFAULT '0', "end_time" bigint, "due_message" text, "due_seq" integer NOT NULL DEFAULT '0', "due_at" bigint, CONSTRAINT "PK_c2117aadd9d37d1109932e33534" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE INDEX "execution_stages_due_idx" ON "execution_stages"  ("due_at") WHERE due_message IS NOT NULL`);
        await queryRunner.query(`CREATE INDEX "execution_stages_execution_idx" ON "execution_stages"  ("execution_id", "position") `);
        await queryRunner.query(`ALTER TABLE "execution_stages" ADD CONSTRAINT "FK_0367e1620ff2f17be531aa9b1c5" FOREIGN KEY ("execution_id") REFERENCES "executions"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "execution_stages" DROP CONSTRAINT "FK_0367e1620ff2f17be531aa9b1c5"`);
        await queryRunner.query(`DROP INDEX "public"."execution_stages_execution_idx"`);
        await queryRunner.query(`DROP INDEX "public"."execution_stages_due_idx"`);
        await queryRunner.query(`DROP TABLE "execution_stages"`);
        await queryRunner.query(`DROP INDEX "public"."executions_pipeline_build_idx"`);
        await queryRunner.query(`DROP INDEX "public"."executions_application_build_idx"`);
        await queryRunner.query(`DROP INDEX "public"."executions_status_idx"`);
        await queryRunner.query(`DROP INDEX "public"."executions_due_idx"`);
        await queryRunner.query(`DROP TABLE "executions"`);
    }

}
