module.exports = require('@backstage/cli/config/eslint-factory')(__dirname, {
  rules: {
    // supertest's `request(app)....expect(status)` is an assertion
    'jest/expect-expect': [
      'warn',
      { assertFunctionNames: ['expect', 'request.**.expect'] },
    ],
  },
});
