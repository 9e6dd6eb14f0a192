import { registry } from "@web/core/registry";

/**
 * A customer's answer to a template noted in the chatter of its record (``whatsapp/thread_update``, sent by
 * the webhook): a chatter showing that record fetches its new messages, live.
 */
export const whatsappThreadUpdateService = {
    dependencies: ["bus_service", "mail.store"],
    start(env, { bus_service: busService, "mail.store": store }) {
        busService.subscribe("whatsapp/thread_update", ({ model, id }) => {
            const thread = store.Thread.get({ model, id });
            if (thread?.isLoaded) {
                thread.fetchNewMessages();
            }
        });
        busService.start();
    },
};

registry.category("services").add("whatsapp.thread_update", whatsappThreadUpdateService);
