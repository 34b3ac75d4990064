import useAsync from 'react-use/esm/useAsync';
import { isNotFound } from '../../lib/hooks';

/**
 * Loads data from an endpoint that older backends lack: `unavailable` is
 * true when the backend answers 404.
 */
export function useOptionalAsync<T>(load: () => Promise<T>, deps: unknown[]) {
  const state = useAsync(async () => {
    try {
      return { value: await load(), unavailable: false };
    } catch (error) {
      if (isNotFound(error)) {
        return { value: undefined, unavailable: true };
      }
      throw error;
    }
  }, deps);
  return {
    loading: state.loading,
    error: state.error,
    value: state.value?.value,
    unavailable: state.value?.unavailable ?? false,
  };
}
