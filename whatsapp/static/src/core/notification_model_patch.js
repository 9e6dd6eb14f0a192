import { Failure } from "@mail/core/common/failure_model";
import { Notification } from "@mail/core/common/notification_model";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

// WhatsApp messages in a record's chatter: their delivery status is a mail.notification of type
// "whatsapp" (sent, delivered/read as sent, failed with Meta's reason), shown with WhatsApp's icon.
patch(Notification.prototype, {
    get icon() {
        if (this.notification_type === "whatsapp") {
            return "fa fa-whatsapp";
        }
        return super.icon;
    },
    get label() {
        if (this.notification_type === "whatsapp") {
            return _t("WhatsApp");
        }
        return super.label;
    },
});

// The messaging menu's item for the WhatsApp messages a user sent that failed (see messaging_menu_patch.js).
patch(Failure.prototype, {
    get iconSrc() {
        if (this.type === "whatsapp") {
            return "/whatsapp/static/img/whatsapp_failure.svg";
        }
        return super.iconSrc;
    },
    get body() {
        if (this.type === "whatsapp") {
            if (this.notifications.length === 1 && this.lastMessage?.thread) {
                return _t("A WhatsApp message could not be sent on “%(record_name)s”", {
                    record_name: this.lastMessage.thread.name,
                });
            }
            return _t("WhatsApp messages could not be sent");
        }
        return super.body;
    },
});
