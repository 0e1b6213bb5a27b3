#include "state/state_store.h"

namespace ck {

std::string_view SyncStatusName(SyncStatus s) {
  switch (s) {
    case SyncStatus::kPending:
      return "pending";
    case SyncStatus::kUploading:
      return "uploading";
    case SyncStatus::kSynced:
      return "synced";
    case SyncStatus::kFailed:
      return "failed";
  }
  return "pending";
}

}  // namespace ck
