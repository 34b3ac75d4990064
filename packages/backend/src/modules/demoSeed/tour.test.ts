import { demoTour } from './index';

// The lines the demo prints once its data is seeded name what the seed
// left for each example user, as the README's demo table lists it.
describe('demoTour', () => {
  it('names the seeded versions that wait for each user, and the URLs', () => {
    const tour = demoTour('http://localhost:3000', 'http://localhost:7007');
    expect(tour).toContain('open http://localhost:3000 and sign in');
    expect(tour).toMatch(
      /bob \(ml-reviewers\): Model Hub > Approvals, mistral-7b-instruct-v0-3 v0\.3 waits/,
    );
    expect(tour).toMatch(
      /alice \(ml-engineers\).*support-assistant-llama3 2025\.06 has bob's change request/,
    );
    expect(tour).toContain('http://localhost:3000/model-hub/access-tokens');
    expect(tour).toContain(
      'HF_ENDPOINT=http://localhost:7007/api/model-hub/hf HF_TOKEN=hf_... huggingface-cli download default/llama-3-8b-instruct --revision v1.0',
    );
    expect(tour).toMatch(
      /dana \(ml-admins\).*churn-predictor v2-draft is a draft whose pickle safety check failed/,
    );
  });

  it('uses the configured addresses', () => {
    const tour = demoTour('https://portal.example', 'https://api.example');
    expect(tour).toContain('open https://portal.example and sign in');
    expect(tour).toContain('HF_ENDPOINT=https://api.example/api/model-hub/hf');
    expect(tour).not.toContain('localhost');
  });
});
