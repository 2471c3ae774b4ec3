"""Page URLs of every app (the API lives under /api/v1/)."""

from django.urls import path

from labelop.accounts import views as accounts
from labelop.annotations import views as labeling
from labelop.assets import views as assets
from labelop.audit import views as audit
from labelop.privacy import views as privacy
from labelop.projects import views as projects
from labelop.releases import views as releases
from labelop.review import views as review
from labelop.storage import views as storage

urlpatterns = [
    path("login", accounts.LoginView.as_view(), name="login"),
    path("logout", accounts.LogoutView.as_view(), name="logout"),
    path("password", accounts.PasswordChangeView.as_view(), name="password"),
    path("tokens", accounts.TokenListView.as_view(), name="tokens"),
    path("two-factor", accounts.TwoFactorView.as_view(), name="two-factor"),
    path("tokens/<int:token_id>/revoke", accounts.TokenRevokeView.as_view(), name="token-revoke"),
    path("users", accounts.UserListView.as_view(), name="users"),
    path("users/<str:username>/active", accounts.UserActiveView.as_view(), name="user-active"),
    path("", projects.ProjectListView.as_view(), name="projects"),
    path("projects/<int:project_id>", projects.ProjectDetailView.as_view(), name="project"),
    path("projects/<int:project_id>/activate", projects.ProjectActivateView.as_view(),
         name="project-activate"),
    path("projects/<int:project_id>/members", projects.MemberAddView.as_view(),
         name="member-add"),
    path("projects/<int:project_id>/members/<str:username>", projects.MemberUpdateView.as_view(),
         name="member-update"),
    path("projects/<int:project_id>/members/<str:username>/remove",
         projects.MemberRemoveView.as_view(), name="member-remove"),
    path("audit", audit.AuditLogView.as_view(), name="audit"),
    path("projects/<int:project_id>/images", assets.ImageUploadView.as_view(), name="upload"),
    path("projects/<int:project_id>/storage", assets.ProjectStorageView.as_view(),
         name="project-storage"),
    path("projects/<int:project_id>/queue", labeling.QueueView.as_view(), name="queue"),
    path("projects/<int:project_id>/next", labeling.NextTaskView.as_view(), name="next-task"),
    path("projects/<int:project_id>/tasks", labeling.TaskTableView.as_view(), name="tasks"),
    path("tasks/<int:task_id>", labeling.EditorView.as_view(), name="editor"),
    path("projects/<int:project_id>/review", review.ReviewQueueView.as_view(), name="review"),
    path("projects/<int:project_id>/note", privacy.NoteView.as_view(), name="note"),
    path("projects/<int:project_id>/exceptions", privacy.ExceptionsView.as_view(),
         name="exceptions"),
    path("projects/<int:project_id>/data-path", privacy.DataPathView.as_view(),
         name="data-path"),
    path("projects/<int:project_id>/escalations", review.EscalationsView.as_view(),
         name="escalations"),
    path("projects/<int:project_id>/releases", releases.ReleasesView.as_view(),
         name="releases"),
    path("snapshots/<int:snapshot_id>/report/<int:other_id>",
         releases.ReleaseReportView.as_view(), name="release-report"),
    path("storage", storage.LocationListView.as_view(), name="storage"),
    path("storage/<int:location_id>/check", storage.LocationCheckView.as_view(),
         name="storage-check"),
]
