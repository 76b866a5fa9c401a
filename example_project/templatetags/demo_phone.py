"""``{% demo_phone_panel %}``: the demo phone, on every page of the demo site."""

from django import template
from django.urls import NoReverseMatch, reverse

from ..views import demo_phone_enabled, demo_phone_messages

register = template.Library()


@register.inclusion_tag("example_project/_demo_phone.html")
def demo_phone_panel() -> dict:
    """The recent console messages; nothing at all unless DEBUG and the console provider."""
    if not demo_phone_enabled():
        return {"enabled": False}
    try:
        url = reverse("demo-phone")
    except NoReverseMatch:  # a site that uses the templates without the demo's URLs
        return {"enabled": False}
    return {"enabled": True, "url": url, "messages": demo_phone_messages()}
