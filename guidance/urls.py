from django.urls import path

from guidance import views

app_name = "guidance"

urlpatterns = [
    path("cards/<uuid:uuid>/decide/", views.card_decide, name="decide"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<str:code>/v<int:version>/", views.rule_detail, name="rule"),
    path("rules/<str:code>/v<int:version>/edit/", views.rule_edit, name="rule_edit"),
    path("rules/<str:code>/v<int:version>/activate/", views.rule_activate, name="rule_activate"),
    path("rules/<str:code>/v<int:version>/retire/", views.rule_retire, name="rule_retire"),
]
