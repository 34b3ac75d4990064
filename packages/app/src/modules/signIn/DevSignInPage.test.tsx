import { chosenDevUser, DEV_USERS } from './DevSignInPage';

describe('development sign-in', () => {
  afterEach(() => {
    window.sessionStorage.clear();
    window.history.replaceState(null, '', '/');
  });

  it('signs in as the user of ?as= and remembers it for the tab', () => {
    expect(chosenDevUser()).toBeUndefined();
    window.history.replaceState(null, '', '/?as=bob');
    expect(chosenDevUser()).toBe('bob');
    window.history.replaceState(null, '', '/catalog');
    expect(chosenDevUser()).toBe('bob');
  });

  it('ignores malformed user names', () => {
    window.history.replaceState(null, '', '/?as=..%2Fadmin');
    expect(chosenDevUser()).toBeUndefined();
    window.sessionStorage.setItem('model-hub-dev-user', 'Robert; drop');
    expect(chosenDevUser()).toBeUndefined();
  });

  it('offers the example users of the demo org', () => {
    expect(DEV_USERS.map(u => u.name)).toEqual([
      'alice',
      'bob',
      'carol',
      'dana',
    ]);
  });
});
