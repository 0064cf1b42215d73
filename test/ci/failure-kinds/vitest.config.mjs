// A small project with one file per kind of failure, run by test/ci/test-counts.int-spec.ts to check what CI's
// last line counts. Its files end in .case.mjs so the project's own `npm test` never collects them.
export default { test: { include: ['*.case.mjs'], pool: 'forks' } };
