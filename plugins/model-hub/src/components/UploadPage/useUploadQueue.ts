import { identityApiRef, useApi } from '@backstage/core-plugin-api';
import { useCallback, useEffect, useRef, useState } from 'react';
import { modelHubApiRef } from '../../api';
import { Uploader, UploadTask } from './tusUploader';
import { Entry, smooth } from './uploadEntries';

/**
 * The uploads of the upload page: starts each file (tus) or ZIP package,
 * tracks its progress and speed, pauses, resumes and removes it; running
 * uploads pause when the page goes away (tus resumes them later).
 */
export function useUploadQueue(options: {
  uploader: Uploader;
  /** The target model (entity ref) and version label. */
  modelRef: string;
  label: string;
  /** The version label of a package; empty for the manifest's. */
  packageLabel: string;
  /** After an upload finished. */
  onUploaded(entry: Entry): void;
}) {
  const api = useApi(modelHubApiRef);
  const identityApi = useApi(identityApiRef);
  const [entries, setEntries] = useState<Entry[]>([]);
  const tasks = useRef(new Map<string, UploadTask>());

  const update = useCallback((id: string, patch: Partial<Entry>) => {
    setEntries(list => list.map(e => (e.id === id ? { ...e, ...patch } : e)));
  }, []);

  // stop running uploads when the page goes away; tus resumes them later
  useEffect(() => {
    const running = tasks.current;
    return () => {
      running.forEach(t => {
        t.pause().catch(() => {});
      });
    };
  }, []);

  const startFile = async (entry: Entry) => {
    let last = { time: Date.now(), bytes: 0 };
    const getToken = async () => (await identityApi.getCredentials()).token;
    try {
      const callbacks = {
        onProgress(sent: number, total: number) {
          const now = Date.now();
          const dt = (now - last.time) / 1000;
          if (dt >= 0.25 || sent === total) {
            const rate = dt > 0 ? (sent - last.bytes) / dt : undefined;
            last = { time: now, bytes: sent };
            setEntries(list =>
              list.map(e =>
                e.id === entry.id
                  ? {
                      ...e,
                      sent,
                      total,
                      status: e.status === 'paused' ? 'paused' : 'uploading',
                      speed: smooth(e.speed, rate),
                    }
                  : e,
              ),
            );
          }
        },
        onSuccess() {
          tasks.current.delete(entry.id);
          update(entry.id, { status: 'done', sent: entry.file.size });
          options.onUploaded(entry);
        },
        onError(error: Error) {
          update(entry.id, { status: 'failed', error: error.message });
        },
      };
      const task = entry.isPackage
        ? await options.uploader.createPackage({
            url: await api.getPackageUploadUrl(
              options.modelRef,
              options.packageLabel.trim() || undefined,
            ),
            file: entry.file,
            getToken,
            callbacks,
          })
        : await options.uploader.create({
            endpoint: await api.getUploadEndpoint(),
            file: entry.file,
            metadata: {
              model: options.modelRef,
              version: options.label,
              path: entry.path,
              filename: entry.file.name,
            },
            getToken,
            callbacks,
          });
      tasks.current.set(entry.id, task);
      last = { time: Date.now(), bytes: task.resumedAt };
      update(entry.id, {
        status: 'uploading',
        resumedAt: task.resumedAt || undefined,
        sent: task.resumedAt,
      });
      task.start();
    } catch (e) {
      update(entry.id, { status: 'failed', error: (e as Error).message });
    }
  };

  /** Adds uploads to the list and starts them. */
  const add = (added: Entry[]) => {
    setEntries(list => [...list, ...added]);
    added.forEach(e => {
      startFile(e);
    });
  };

  const pause = async (entry: Entry) => {
    update(entry.id, { status: 'paused', speed: undefined });
    await tasks.current.get(entry.id)?.pause();
  };
  const resume = (entry: Entry) => {
    const task = tasks.current.get(entry.id);
    update(entry.id, { status: 'uploading', error: undefined });
    if (task) {
      task.start();
    } else {
      startFile(entry);
    }
  };
  const remove = async (entry: Entry) => {
    const task = tasks.current.get(entry.id);
    tasks.current.delete(entry.id);
    setEntries(list => list.filter(e => e.id !== entry.id));
    if (task && entry.status !== 'done') {
      await task.abort().catch(() => {});
    }
  };

  return { entries, add, pause, resume, remove };
}
