import { Progress, ResponseErrorPanel } from '@backstage/core-components';
import { useApi } from '@backstage/core-plugin-api';
import { usePermission } from '@backstage/plugin-permission-react';
import {
  modelHubVersionCreatePermission,
  modelHubVersionReviewPermission,
} from '@model-hub/backstage-plugin-model-hub-common';
import Box from '@material-ui/core/Box';
import Button from '@material-ui/core/Button';
import TextField from '@material-ui/core/TextField';
import Tooltip from '@material-ui/core/Tooltip';
import Typography from '@material-ui/core/Typography';
import Alert from '@material-ui/lab/Alert';
import { useState } from 'react';
import useAsyncRetry from 'react-use/esm/useAsyncRetry';
import { HubComment, modelHubApiRef } from '../../api';
import { formatTime } from '../../lib/format';
import { isConflict, messageOf, shortRef } from './conflict';

const DENIED =
  "Only reviewers (model-hub.version.review) and the model's owners (model-hub.version.create) may comment";

function Composer(props: {
  id: string;
  label: string;
  submitLabel: string;
  reason?: string;
  onSubmit(body: string): Promise<boolean>;
  onCancel?(): void;
}) {
  const [body, setBody] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <Box display="flex" flexDirection="column" style={{ gap: 8 }} mt={1}>
      <TextField
        id={props.id}
        label={props.label}
        multiline
        minRows={2}
        fullWidth
        variant="outlined"
        size="small"
        value={body}
        disabled={Boolean(props.reason)}
        onChange={e => setBody(e.target.value)}
      />
      <Box display="flex" style={{ gap: 8 }}>
        <Tooltip title={props.reason ?? ''}>
          <span>
            <Button
              size="small"
              variant="contained"
              color="primary"
              disabled={busy || Boolean(props.reason) || !body.trim()}
              onClick={async () => {
                setBusy(true);
                try {
                  if (await props.onSubmit(body.trim())) {
                    setBody('');
                  }
                } finally {
                  setBusy(false);
                }
              }}
            >
              {props.submitLabel}
            </Button>
          </span>
        </Tooltip>
        {props.onCancel && (
          <Button size="small" onClick={props.onCancel}>
            Cancel
          </Button>
        )}
      </Box>
      {props.reason && (
        <Typography variant="caption" color="textSecondary">
          {props.reason}
        </Typography>
      )}
    </Box>
  );
}

function CommentNode(props: {
  comment: HubComment;
  depth: number;
  reason?: string;
  replyingTo?: string;
  setReplyingTo(id?: string): void;
  onReply(parentId: string, body: string): Promise<boolean>;
}) {
  const { comment } = props;
  return (
    <Box
      component="li"
      pl={props.depth ? 2 : 0}
      ml={props.depth ? 1 : 0}
      borderLeft={props.depth ? 2 : 0}
      borderColor="divider"
      style={{ listStyle: 'none' }}
      aria-label={`Comment by ${shortRef(comment.author)}`}
      data-comment={comment.id}
    >
      <Typography variant="body2">
        <strong>{shortRef(comment.author)}</strong>{' '}
        <Typography component="span" variant="caption" color="textSecondary">
          {formatTime(comment.createdAt)}
        </Typography>
      </Typography>
      <Typography variant="body2" style={{ whiteSpace: 'pre-wrap' }}>
        {comment.body}
      </Typography>
      {props.replyingTo === comment.id ? (
        <Composer
          id={`model-hub-reply-${comment.id}`}
          label={`Reply to ${shortRef(comment.author)}`}
          submitLabel="Post reply"
          reason={props.reason}
          onSubmit={body => props.onReply(comment.id, body)}
          onCancel={() => props.setReplyingTo(undefined)}
        />
      ) : (
        <Tooltip title={props.reason ?? ''}>
          <span>
            <Button
              size="small"
              disabled={Boolean(props.reason)}
              aria-label={`Reply to ${shortRef(comment.author)}`}
              onClick={() => props.setReplyingTo(comment.id)}
            >
              Reply
            </Button>
          </span>
        </Tooltip>
      )}
      {comment.replies.length > 0 && (
        <Box component="ul" p={0} m={0}>
          {comment.replies.map(r => (
            <CommentNode key={r.id} {...props} comment={r} depth={1} />
          ))}
        </Box>
      )}
    </Box>
  );
}

/**
 * The comment threads of a version: comments with their replies, a field
 * for a new comment and a reply field under each comment, for reviewers
 * and the model's owners (explained to others).
 *
 * @public
 */
export function CommentThread(props: { model: string; label: string }) {
  const api = useApi(modelHubApiRef);
  const review = usePermission({
    permission: modelHubVersionReviewPermission,
    resourceRef: props.model,
  });
  const create = usePermission({
    permission: modelHubVersionCreatePermission,
    resourceRef: props.model,
  });
  const [replyingTo, setReplyingTo] = useState<string>();
  const [feedback, setFeedback] = useState<{
    severity: 'warning' | 'error';
    message: string;
  }>();
  const threads = useAsyncRetry(
    () => api.listComments(props.model, props.label),
    [api, props.model, props.label],
  );

  let reason: string | undefined;
  if (review.loading || create.loading) {
    reason = 'Checking your permissions…';
  } else if (!review.allowed && !create.allowed) {
    reason = DENIED;
  }

  const post = async (body: string, parentId?: string) => {
    setFeedback(undefined);
    try {
      await api.addComment(props.model, props.label, { body, parentId });
      setReplyingTo(undefined);
      threads.retry();
      return true;
    } catch (e) {
      if (isConflict(e)) {
        setFeedback({
          severity: 'warning',
          message: `The thread changed meanwhile and was reloaded: ${messageOf(
            e,
          )}`,
        });
        threads.retry();
      } else {
        setFeedback({ severity: 'error', message: messageOf(e) });
      }
      return false;
    }
  };

  return (
    <Box>
      {threads.loading && !threads.value && <Progress />}
      {threads.error && <ResponseErrorPanel error={threads.error} />}
      {threads.value && threads.value.length === 0 && (
        <Typography variant="body2" color="textSecondary">
          No comments yet.
        </Typography>
      )}
      {threads.value && threads.value.length > 0 && (
        <Box
          component="ul"
          p={0}
          m={0}
          aria-label="Comments"
          display="flex"
          flexDirection="column"
          style={{ gap: 12 }}
        >
          {threads.value.map(c => (
            <CommentNode
              key={c.id}
              comment={c}
              depth={0}
              reason={reason}
              replyingTo={replyingTo}
              setReplyingTo={setReplyingTo}
              onReply={(parentId, body) => post(body, parentId)}
            />
          ))}
        </Box>
      )}
      {feedback && (
        <Box mt={1}>
          <Alert
            severity={feedback.severity}
            onClose={() => setFeedback(undefined)}
          >
            {feedback.message}
          </Alert>
        </Box>
      )}
      <Composer
        id="model-hub-new-comment"
        label="New comment"
        submitLabel="Add comment"
        reason={reason}
        onSubmit={body => post(body)}
      />
    </Box>
  );
}
