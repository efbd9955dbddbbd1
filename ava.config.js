export default {
  files: ['tests/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  timeout: '120s',
  concurrency: 2,
  workerThreads: false,
};
