import { MessagingMenu } from "@mail/core/public_web/messaging_menu";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/**
 * The messaging menu's WhatsApp failure item: one record opens it (as mail does), several open the list of
 * that model's records with a WhatsApp message of the user that failed, in WhatsApp's words. Handled in
 * onClickFailure, which sms does not override: sms's openFailureView opens its SMS list for any type but
 * email, and whichever of the two patches is applied last would otherwise win.
 */
patch(MessagingMenu.prototype, {
    onClickFailure(failure) {
        if (failure.type !== "whatsapp") {
            return super.onClickFailure(...arguments);
        }
        const threadIds = new Set(failure.notifications.map(({ message }) => message.thread?.id));
        if (threadIds.size === 1) {
            this.openThread(failure.notifications[0].message.thread);
            return;
        }
        this.openWhatsAppFailures(failure);
        this.dropdown.close();
    },
    openFailureView(failure) {
        if (failure.type === "whatsapp") {
            return this.openWhatsAppFailures(failure);
        }
        return super.openFailureView(...arguments);
    },
    openWhatsAppFailures(failure) {
        this.env.services.action.doAction({
            name: _t("WhatsApp Failures"),
            type: "ir.actions.act_window",
            views: [
                [false, "list"],
                [false, "kanban"],
                [false, "form"],
            ],
            target: "current",
            res_model: failure.resModel,
            domain: [["message_has_whatsapp_error", "=", true]],
            context: { create: false },
        });
    },
    getFailureNotificationName(failure) {
        if (failure.type === "whatsapp") {
            return _t("WhatsApp Failure: %(modelName)s", { modelName: failure.modelName });
        }
        return super.getFailureNotificationName(...arguments);
    },
});
