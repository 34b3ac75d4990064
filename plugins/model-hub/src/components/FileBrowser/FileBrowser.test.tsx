import { renderInTestApp } from '@backstage/test-utils';
import { fireEvent, screen } from '@testing-library/react';
import { modelHubFixtures } from '../../testUtils';
import { FileBrowser } from './FileBrowser';

describe('FileBrowser', () => {
  it('shows the tree with sizes, digests and locations', async () => {
    const onDownload = jest.fn();
    const onFetch = jest.fn();
    await renderInTestApp(
      <FileBrowser
        tree={modelHubFixtures.files().tree}
        onDownload={onDownload}
        onFetch={onFetch}
      />,
    );
    expect(screen.getByText('config.json')).toBeInTheDocument();
    expect(screen.getByText('model.safetensors')).toBeInTheDocument();
    expect(screen.getByText('512 B')).toBeInTheDocument();
    // the folder sums its files
    expect(screen.getAllByText('4.0 KiB')).toHaveLength(2);
    expect(screen.getByLabelText('SHA-256 of config.json')).toHaveTextContent(
      /^0b/,
    );

    fireEvent.click(screen.getByLabelText('Download config.json'));
    expect(onDownload).toHaveBeenCalledWith('config.json');
    // remote files and their folder can be fetched, not downloaded
    expect(
      screen.queryByLabelText('Download weights/model.safetensors'),
    ).not.toBeInTheDocument();
    fireEvent.click(screen.getByLabelText('Fetch weights from Hugging Face'));
    expect(onFetch).toHaveBeenCalledWith(['weights']);

    fireEvent.click(screen.getByLabelText('Collapse weights'));
    expect(screen.queryByText('model.safetensors')).not.toBeInTheDocument();
  });

  it('disables actions the user may not perform', async () => {
    await renderInTestApp(
      <FileBrowser
        tree={modelHubFixtures.files().tree}
        onDownload={jest.fn()}
        onFetch={jest.fn()}
        canDownload={false}
        canFetch={false}
      />,
    );
    expect(screen.getByLabelText('Download README.md')).toBeDisabled();
    expect(
      screen.getByLabelText(
        'Fetch weights/model.safetensors from Hugging Face',
      ),
    ).toBeDisabled();
  });

  it('says when there are no files', async () => {
    await renderInTestApp(
      <FileBrowser tree={{ type: 'directory', name: '', path: '' }} />,
    );
    expect(screen.getByText('This version has no files.')).toBeInTheDocument();
  });
});
