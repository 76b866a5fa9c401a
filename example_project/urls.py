from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.demo, name="demo"),
    path("register/", views.register, name="demo-register"),
    path("register/confirm/", views.confirm_phone, name="demo-confirm"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="example_project/login.html"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="demo"), name="logout"),
    path("admin/", admin.site.urls),
]
