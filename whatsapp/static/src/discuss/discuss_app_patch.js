import { DiscussApp } from "@mail/core/public_web/discuss_app_model";
import { DiscussAppCategory } from "@mail/core/public_web/discuss_app_category_model";
import { Record } from "@mail/core/common/record";
import { MessagingMenu } from "@mail/core/public_web/messaging_menu";
import { compareDatetime } from "@mail/utils/common/misc";

import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/**
 * The WhatsApp category of the Discuss sidebar and the WhatsApp tab of the messaging menu (the store's
 * ``tabToThreadType("whatsapp")`` already maps the tab to the "whatsapp" channel type).
 */
patch(DiscussApp.prototype, {
    setup(env) {
        super.setup(env);
        this.whatsappCategory = Record.one("DiscussAppCategory", {
            compute() {
                return {
                    extraClass: "o-mail-DiscussSidebarCategory-whatsapp",
                    icon: "fa fa-whatsapp",
                    hideWhenEmpty: true,
                    id: "whatsapp.category",
                    name: _t("WhatsApp"),
                    sequence: 25,
                };
            },
        });
    },
});

patch(DiscussAppCategory.prototype, {
    sortThreads(t1, t2) {
        if (this.id === "whatsapp.category") {
            return compareDatetime(t2.lastInterestDt, t1.lastInterestDt) || t2.id - t1.id;
        }
        return super.sortThreads(t1, t2);
    },
});

patch(MessagingMenu.prototype, {
    /** The user has WhatsApp chats: the menu offers a WhatsApp filter (desktop) or tab (small screens). */
    get hasWhatsAppChats() {
        return Object.values(this.store.Thread.records).some((t) => t.channel_type === "whatsapp");
    },
    get tabs() {
        const tabs = super.tabs;
        if (this.hasWhatsAppChats) {
            tabs.push({ id: "whatsapp", icon: "fa fa-whatsapp", label: _t("WhatsApp") });
        }
        return tabs;
    },
});
