import { MigrationInterface, QueryRunner } from "typeorm";

export class PipelineStore1795314032695 implements MigrationInterface {
    name = 'PipelineStore1795314032695'

    public async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE "applications" ("name" text NOT NULL, "email" text, "description" text, "attributes" jsonb NOT NULL, "version" integer NOT NULL DEFAULT '1', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_by" text NOT NULL, CONSTRAINT "PK_fcdfc51648dfbc8cfa417d6c3fc" PRIMARY KEY ("name"))`);
        await queryRunner.query(`CREATE TABLE "pipelines" ("id" text NOT NULL, "application" text NOT NULL, "name" text NOT NULL, "version" integer NOT NULL, "config" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_by" text NOT NULL, CONSTRAINT "PK_e38ea171cdfad107c1f3db2c036" PRIMARY KEY ("id"))`);
        await queryRunner.query(`CREATE UNIQUE INDEX "pipelines_application_name_key" ON "pipelines"  ("application", "name") `);
        await queryRunner.query(`CREATE TABLE "pipeline_versions" ("pipeline_id" text NOT NULL, "version" integer NOT NULL, "name" text NOT NULL, "config" jsonb NOT NULL, "reverted_from" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "created_by" text NOT NULL, CONSTRAINT "PK_fa13421e0b074ab2128e136d569" PRIMARY KEY ("pipeline_id", "version"))`);
        await queryRunner.query(`ALTER TABLE "pipelines" ADD CONSTRAINT "FK_41dc08557de1b76f5ecf1335b00" FOREIGN KEY ("application") REFERENCES "applications"("name") ON DELETE RESTRICT ON UPDATE NO ACTION`);
        await queryRunner.query(`ALTER TABLE "pipeline_versions" ADD CONSTRAINT "FK_d1e495c40371ddf3e7670b27ba0" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    }

    public async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`ALTER TABLE "pipeline_versions" DROP CONSTRAINT "FK_d1e495c40371ddf3e7670b27ba0"`);
        await queryRunner.query(`ALTER TABLE "pipelines" DROP CONSTRAINT "FK_41dc08557de1b76f5ecf1335b00"`);
        await queryRunner.query(`DROP TABLE "pipeline_versions"`);
        await queryRunner.query(`DROP INDEX "public"."pipelines_application_name_key"`);
        await queryRunner.query(`DROP TABLE "pipelines"`);
        await queryRunner.query(`DROP TABLE "applications"`);
    }

}
