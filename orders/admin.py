from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from orders.exceptions import OrderError
from orders.forms import OrderLineFormSet, PlaceOrderForm
from orders.models import ALLOWED_TRANSITIONS, Order, OrderItem, OrderStatus, OrderStatusHistory
from orders.services import order_place, order_update_status

# Staff move orders along the status graph with these buttons (on an order's page) and
# bulk actions (on the list); which ones an order offers follows ALLOWED_TRANSITIONS,
# and order_update_status refuses the rest.
STATUS_ACTIONS = {
    "confirm": (OrderStatus.CONFIRMED, "Confirm"),
    "start_processing": (OrderStatus.PROCESSING, "Start processing"),
    "ship": (OrderStatus.SHIPPING, "Ship"),
    "deliver": (OrderStatus.DELIVERED, "Mark delivered"),
    "complete": (OrderStatus.COMPLETED, "Mark completed"),
    "cancel": (OrderStatus.CANCELLED, "Cancel"),
}
STAFF_NOTE = "by staff {username}"
ORDERS_MOVED = "{count} order(s) moved to {status}."
ALREADY_IN_STATUS = "order {order_id}: already {status}, nothing changed"
ORDER_PLACED = "Placed {order} for {customer}, total {total}."


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["book"]

    # Items are priced and added up by order_place: an item added or removed here would
    # leave the order's totals wrong.
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderStatusHistoryInline(admin.TabularInline):
    model = OrderStatusHistory
    extra = 0
    fields = ["created_at", "old_status", "new_status", "note"]
    readonly_fields = fields
    can_delete = False

    # History is written by the status-change service, together with the change.
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _status_action(name: str, new_status: str, label: str):
    def action(modeladmin, request, queryset):
        modeladmin.move_orders(request, [str(pk) for pk in queryset.values_list("pk", flat=True)], new_status)

    action.__name__ = name
    return admin.action(description=f"{label} selected orders", permissions=["change"])(action)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "payment_method", "total", "created_at"]
    list_filter = ["status", "payment_method", "created_at"]
    search_fields = ["id", "user__username", "user__email"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "status",
        "subtotal",
        "discount_amount",
        "shipping_fee",
        "total",
        "created_at",
        "updated_at",
    ]
    inlines = [OrderItemInline, OrderStatusHistoryInline]
    actions = [_status_action(name, status, label) for name, (status, label) in STATUS_ACTIONS.items()]

    @admin.display(description="order", ordering="id")
    def short_id(self, obj):
        return str(obj.id)[:8]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A placed order's customer and payment method stay as placed: switching to or
        # from cash on delivery would leave its auto-confirm job wrong.
        return [*self.readonly_fields, "user", "payment_method"]

    def get_urls(self):
        status = path(
            "<path:object_id>/status/",
            self.admin_site.admin_view(self.status_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_status",
        )
        return [status, *super().get_urls()]

    # --- placing an order --------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        """The "Add order" page places the order through order_place, which prices the items,
        writes the history row and schedules a cash-on-delivery order's confirmation; a
        bare Order row would have none of them."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else None
        form = PlaceOrderForm(data, admin_site=self.admin_site)
        lines = OrderLineFormSet(data, prefix="lines", form_kwargs={"admin_site": self.admin_site})
        if data is not None and all([form.is_valid(), lines.is_valid()]):
            try:
                order = order_place(
                    user=form.cleaned_data["user"],
                    payment_method=form.cleaned_data["payment_method"],
                    lines=lines.lines(),
                    discount_amount=form.cleaned_data["discount_amount"],
                    shipping_fee=form.cleaned_data["shipping_fee"],
                )
            except ValueError as error:  # order_place refuses the order as asked
                form.add_error(None, str(error))
            else:
                self.log_addition(request, order, [{"added": {}}])
                self.message_user(
                    request,
                    ORDER_PLACED.format(order=order, customer=order.user, total=order.total),
                    messages.SUCCESS,
                )
                return redirect(self._change_url(order.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": "Place order",
            "opts": self.opts,
            "form": form,
            "lines": lines,
            "media": self.media + form.media + lines.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/orders/order/place_order.html", context)

    # --- status changes ----------------------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            allowed = ALLOWED_TRANSITIONS[obj.status] if self.has_change_permission(request, obj) else ()
            context["status_changes"] = [
                (status, label) for status, label in STATUS_ACTIONS.values() if status in allowed
            ]
            # Nothing on a placed order is edited through this form (its status moves
            # with the buttons above it), so it has nothing to save.
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def status_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, order):
            raise PermissionDenied
        self.move_orders(request, [str(order.pk)], request.POST.get("new_status", ""))
        return redirect(self._change_url(order.pk))

    def move_orders(self, request, order_ids: list[str], new_status: str) -> None:
        """Moves each order through order_update_status, which refuses a change the
        status graph does not allow; each refusal is reported naming the order and the
        change, and changes nothing."""
        note = STAFF_NOTE.format(username=request.user.get_username())
        moved = 0
        for order_id in order_ids:
            try:
                change = order_update_status(order_id=order_id, new_status=new_status, note=note)
            except OrderError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            if change.changed:
                moved += 1
            else:
                self.message_user(
                    request, ALREADY_IN_STATUS.format(order_id=order_id, status=new_status), messages.WARNING
                )
        if moved:
            status = OrderStatus(new_status).label.lower()
            self.message_user(request, ORDERS_MOVED.format(count=moved, status=status), messages.SUCCESS)

    def _change_url(self, order_id) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[order_id],
            current_app=self.admin_site.name,
        )


@admin.register(OrderStatusHistory)
class OrderStatusHistoryAdmin(admin.ModelAdmin):
    list_display = ["order", "old_status", "new_status", "note", "created_at"]
    list_filter = ["new_status", "created_at"]
    search_fields = ["order__id", "note"]
    list_select_related = ["order"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
