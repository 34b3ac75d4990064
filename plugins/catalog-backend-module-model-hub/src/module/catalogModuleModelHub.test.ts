import { startTestBackend } from '@backstage/backend-test-utils';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { ModelEntityProcessor } from '../processor/ModelEntityProcessor';
import { ModelHubSyncProcessor } from '../processor/ModelHubSyncProcessor';
import { catalogModuleModelHub } from './catalogModuleModelHub';
import defaultExport from '.';

describe('catalogModuleModelHub', () => {
  it('is the default export of the module folder', () => {
    expect(defaultExport).toBe(catalogModuleModelHub);
  });

  it('registers the ModelEntityProcessor, the ModelHubSyncProcessor and the Model Hub entity provider', async () => {
    const extensionPoint = {
      addProcessor: jest.fn(),
      addEntityProvider: jest.fn(),
      addPlaceholderResolver: jest.fn(),
      setOnProcessingErrorHandler: jest.fn(),
    };

    await startTestBackend({
      extensionPoints: [[catalogProcessingExtensionPoint, extensionPoint]],
      features: [catalogModuleModelHub],
    });

    expect(extensionPoint.addProcessor).toHaveBeenCalledTimes(2);
    const [processor] = extensionPoint.addProcessor.mock.calls[0];
    expect(processor).toBeInstanceOf(ModelEntityProcessor);
    expect(processor.getProcessorName()).toBe('ModelEntityProcessor');
    // edits of catalog-defined Models reach the hub as they are processed
    const [sync] = extensionPoint.addProcessor.mock.calls[1];
    expect(sync).toBeInstanceOf(ModelHubSyncProcessor);
    expect(sync.getProcessorName()).toBe('ModelHubSyncProcessor');
    expect(extensionPoint.addEntityProvider).toHaveBeenCalledTimes(1);
    const [providers] = extensionPoint.addEntityProvider.mock.calls[0];
    expect(providers.map((p: any) => p.getProviderName())).toEqual([
      'model-hub-provider:default',
    ]);
    expect(extensionPoint.addPlaceholderResolver).not.toHaveBeenCalled();
    expect(extensionPoint.setOnProcessingErrorHandler).not.toHaveBeenCalled();
  });
});
