import { Record } from "@mail/core/common/record";
import { Thread } from "@mail/core/common/thread_model";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { patch } from "@web/core/utils/patch";

const { DateTime } = luxon;

/** WhatsApp chats (channel_type "whatsapp"): category, chat-like behaviour, the 24-hour window. */
patch(Thread.prototype, {
    setup() {
        super.setup(...arguments);
        this.whatsapp_partner = Record.one("Persona");
        this.appAsWhatsApp = Record.one("DiscussApp", {
            compute() {
                return this.channel_type === "whatsapp" ? this.store.discuss : null;
            },
        });
    },
    get isWhatsApp() {
        return this.channel_type === "whatsapp";
    },
    /** @returns {luxon.DateTime|null} end of the customer-service window */
    get whatsappWindowEnd() {
        return this.whatsapp_window_end ? deserializeDateTime(this.whatsapp_window_end) : null;
    },
    whatsappWindowOpen(now = DateTime.now()) {
        const end = this.whatsappWindowEnd;
        return Boolean(end && end > now);
    },
    _computeDiscussAppCategory() {
        if (this.isWhatsApp) {
            return this.appAsWhatsApp?.whatsappCategory;
        }
        return super._computeDiscussAppCategory();
    },
    get autoOpenChatWindowOnNewMessage() {
        return this.isWhatsApp || super.autoOpenChatWindowOnNewMessage;
    },
    get isChatChannel() {
        return this.isWhatsApp || super.isChatChannel;
    },
    get hasMemberList() {
        return this.isWhatsApp || super.hasMemberList;
    },
    get canLeave() {
        return this.isWhatsApp || super.canLeave;
    },
    get avatarUrl() {
        if (this.isWhatsApp && this.whatsapp_partner) {
            return this.whatsapp_partner.avatarUrl;
        }
        return super.avatarUrl;
    },
});
