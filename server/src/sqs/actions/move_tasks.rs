//! The message move task actions: StartMessageMoveTask, ListMessageMoveTasks and
//! CancelMessageMoveTask. Queues are named by ARN here; the tasks themselves run in
//! [`crate::sqs::move_tasks`].

use spool_model::limits::MOVE_TASK_RESULTS_MAX;
use spool_protocol::sqs::{self, ErrorKind, MoveTask, SqsError, SqsResponse};
use spool_protocol::{Request, Response};

use super::{internal, Ctx, Result};
use crate::sqs::move_tasks::{MoveError, NewTask, TaskView};
use spool_model::attrs::names as queue_attr;
use spool_model::limits::MOVE_TASK_RESULTS_DEFAULT;

impl Ctx<'_> {
    pub(super) async fn start_message_move_task(
        &self,
        source_arn: String,
        destination_arn: Option<String>,
        rate: Option<u32>,
    ) -> Result<SqsResponse> {
        let source = self.queue_of_arn(&source_arn)?;
        self.require_queue(&source, &source_arn).await?;
        let destination = match &destination_arn {
            Some(arn) => {
                let d = self.queue_of_arn(arn)?;
                self.require_queue(&d, arn).await?;
                Some(d)
            }
            None => None,
        };
        // The source must be some queue's dead-letter queue.
        let r = self
            .call(Request::ListDeadLetterSourceQueues {
                name: source.as_str().into(),
                max_results: 1,
                next_token: None,
            })
            .await?;
        let is_dlq =
            matches!(&r, Response::DeadLetterSourceQueues { names, .. } if !names.is_empty());
        if !is_dlq {
            return Err(SqsError::new(
                ErrorKind::InvalidParameterValue,
                "Source queue must be configured as a Dead Letter Queue.",
            ));
        }
        let to_move = self
            .attribute(&source, queue_attr::APPROXIMATE_NUMBER_OF_MESSAGES)
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let task = NewTask {
            source,
            source_arn,
            destination,
            destination_arn,
            max_per_second: rate,
            to_move,
            now_ms,
        };
        match self.gw.moves.start(self.gw, task) {
            Ok(task_handle) => Ok(SqsResponse::StartMessageMoveTask { task_handle }),
            Err(MoveError::AlreadyRunning) => Err(SqsError::new(
                ErrorKind::InvalidParameterValue,
                "There is already a task running. Only one active task is allowed for a \
                 source queue arn at a given time.",
            )),
            Err(MoveError::NotFound) => Err(internal("move task vanished")),
        }
    }

    pub(super) async fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<u32>,
    ) -> Result<SqsResponse> {
        let source = self.queue_of_arn(source_arn)?;
        self.require_queue(&source, source_arn).await?;
        let max = max_results
            .unwrap_or(MOVE_TASK_RESULTS_DEFAULT)
            .clamp(1, MOVE_TASK_RESULTS_MAX) as usize;
        Ok(SqsResponse::ListMessageMoveTasks {
            results: self
                .gw
                .moves
                .list(&source, max)
                .into_iter()
                .map(move_task)
                .collect(),
        })
    }

    pub(super) fn cancel_message_move_task(&self, task_handle: &str) -> Result<SqsResponse> {
        match self.gw.moves.cancel(task_handle) {
            Ok(moved) => Ok(SqsResponse::CancelMessageMoveTask {
                approximate_number_of_messages_moved: moved,
            }),
            Err(_) => Err(SqsError::new(
                ErrorKind::ResourceNotFoundException,
                "Task does not exist.",
            )),
        }
    }

    /// The queue an ARN names (ResourceNotFoundException otherwise, as move tasks do).
    fn queue_of_arn(&self, arn: &str) -> Result<String> {
        match sqs::url::queue_arn_parts(arn) {
            Some((region, acct, name))
                if region == self.gw.cfg.region && acct == self.gw.cfg.account_id =>
            {
                Ok(name.to_string())
            }
            _ => Err(SqsError::new(
                ErrorKind::ResourceNotFoundException,
                "The resource that you specified for the SourceArn parameter doesn't exist.",
            )),
        }
    }

    /// ResourceNotFoundException naming `arn` unless queue `name` exists.
    async fn require_queue(&self, name: &str, arn: &str) -> Result<()> {
        let r = self
            .calls
            .call(Request::GetQueue { name: name.into() })
            .await;
        match r {
            Ok(Response::Queue { .. }) => Ok(()),
            _ => Err(SqsError::new(
                ErrorKind::ResourceNotFoundException,
                format!("The resource that you specified ({arn}) doesn't exist."),
            )),
        }
    }
}

/// A task as ListMessageMoveTasks shows it.
fn move_task(t: TaskView) -> MoveTask {
    MoveTask {
        task_handle: t.handle,
        status: t.status.as_str().to_string(),
        source_arn: t.source_arn,
        destination_arn: t.destination_arn,
        max_number_of_messages_per_second: t.max_per_second,
        approximate_number_of_messages_moved: t.moved,
        approximate_number_of_messages_to_move: Some(t.to_move),
        failure_reason: t.failure_reason,
        started_timestamp: t.started_ms,
    }
}
